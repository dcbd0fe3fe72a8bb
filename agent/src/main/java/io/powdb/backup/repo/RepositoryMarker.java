package io.powdb.backup.repo;

import java.io.IOException;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.HexFormat;

/** The object that says "a powdb-backup repository lives here" and which format version it uses. */
public record RepositoryMarker(String format, int formatVersion, String repositoryId, String created) {
    static final String FORMAT = "powdb-backup/repository";
    static final int FORMAT_VERSION = 1;

    static RepositoryMarker create(Instant now) {
        byte[] id = new byte[8];
        new SecureRandom().nextBytes(id);
        return new RepositoryMarker(FORMAT, FORMAT_VERSION, HexFormat.of().formatHex(id), now.toString());
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
        return marker;
    }

    private static RepositoryException newer(String location, int version) {
        return new RepositoryException("repository " + location + " has format version " + version
                + ", written by a newer powdb-backup; this version reads up to " + FORMAT_VERSION + ". Upgrade powdb-backup.");
    }
}
