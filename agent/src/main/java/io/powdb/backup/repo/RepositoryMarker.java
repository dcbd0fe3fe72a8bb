package io.powdb.backup.repo;

import com.fasterxml.jackson.annotation.JsonInclude;

import java.io.IOException;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.HexFormat;

/**
 * The object that says "a powdb-backup repository lives here", which format version it uses and whether it is
 * encrypted. An encrypted repository's marker has format version 2, so a powdb-backup without encryption
 * refuses it ("upgrade") instead of misreading it; a plaintext one stays version 1.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record RepositoryMarker(String format, int formatVersion, String repositoryId, String created,
        Encryption encryption) {
    static final String FORMAT = "powdb-backup/repository";
    static final int FORMAT_VERSION = 2;
    static final int PLAINTEXT_FORMAT_VERSION = 1;

    /** How the repository's objects are encrypted, and with which master key its newest data keys are wrapped. */
    public record Encryption(String algorithm, String masterKeyId) {
        public static final String ALGORITHM = "AES-256-GCM";
    }

    static RepositoryMarker create(Instant now, String masterKeyId) {
        byte[] id = new byte[8];
        new SecureRandom().nextBytes(id);
        String repositoryId = HexFormat.of().formatHex(id);
        return masterKeyId == null
                ? new RepositoryMarker(FORMAT, PLAINTEXT_FORMAT_VERSION, repositoryId, now.toString(), null)
                : new RepositoryMarker(FORMAT, FORMAT_VERSION, repositoryId, now.toString(),
                        new Encryption(Encryption.ALGORITHM, masterKeyId));
    }

    /** The same repository, encrypted with {@code masterKeyId}. */
    RepositoryMarker encryptedWith(String masterKeyId) {
        return new RepositoryMarker(FORMAT, FORMAT_VERSION, repositoryId, created,
                new Encryption(Encryption.ALGORITHM, masterKeyId));
    }

    public boolean encrypted() {
        return encryption != null;
    }

    byte[] encode() throws IOException {
        return Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(this);
    }

    static RepositoryMarker decode(byte[] raw, String location) throws RepositoryException {
        RepositoryMarker marker;
        try {
            marker = Json.MAPPER.readValue(raw, RepositoryMarker.class);
        } catch (IOException e) {
            // A newer version may add fields; check the version before calling it damaged.
            try {
                int version = Json.MAPPER.readTree(raw).path("format_version").asInt(-1);
                if (version > FORMAT_VERSION) {
                    throw newer(location, version);
                }
            } catch (IOException ignored) {
                // not JSON at all
            }
            throw new IntegrityException("repository marker " + Repository.MARKER + " at " + location + " is damaged");
        }
        if (!FORMAT.equals(marker.format())) {
            throw new RepositoryException(location + " holds a " + Repository.MARKER + " that is not a powdb-backup repository");
        }
        if (marker.formatVersion() > FORMAT_VERSION) {
            throw newer(location, marker.formatVersion());
        }
        if (marker.encrypted() && (!Encryption.ALGORITHM.equals(marker.encryption().algorithm())
                || marker.encryption().masterKeyId() == null)) {
            throw new IntegrityException("repository marker " + Repository.MARKER + " at " + location
                    + " names an unknown encryption " + marker.encryption().algorithm());
        }
        return marker;
    }

    private static RepositoryException newer(String location, int version) {
        return new RepositoryException("repository " + location + " has format version " + version
                + ", written by a newer powdb-backup; this version reads up to " + FORMAT_VERSION + ". Upgrade powdb-backup.");
    }
}
