package io.powdb.backup.repo;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.powdb.backup.integrity.Blake3;

import java.io.IOException;

/**
 * Manifests as JSON that checks itself: the last field, {@code manifest_blake3}, is the BLAKE3 of the
 * compact serialisation of every other field in document order. A damaged or edited manifest is refused
 * before any of its content is used, while the file stays plain JSON that jq and people can read.
 */
public final class ManifestCodec {
    static final String CHECKSUM_FIELD = "manifest_blake3";

    private ManifestCodec() {
    }

    public static byte[] encode(Manifest manifest) throws IOException {
        ObjectNode tree = Json.MAPPER.valueToTree(manifest);
        tree.put(CHECKSUM_FIELD, checksum(tree));
        return Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(tree);
    }

    /**
     * Parses and checks a manifest.
     *
     * @param source what the bytes are, for messages (the object key)
     * @throws RepositoryException when a newer tool wrote it
     * @throws IntegrityException when it is damaged, edited or malformed
     */
    public static Manifest decode(byte[] raw, String source) throws RepositoryException {
        JsonNode node;
        try {
            node = Json.MAPPER.readTree(raw);
        } catch (IOException e) {
            throw new IntegrityException("manifest " + source + " is damaged: not valid JSON (" + firstLine(e) + ")");
        }
        if (!(node instanceof ObjectNode tree) || !Manifest.FORMAT.equals(tree.path("format").asText())) {
            throw new IntegrityException("manifest " + source + " is damaged or not a powdb-backup manifest");
        }
        JsonNode version = tree.get("format_version");
        if (version == null || !version.canConvertToInt()) {
            throw new IntegrityException("manifest " + source + " has no valid format_version");
        }
        if (version.intValue() > Manifest.FORMAT_VERSION) {
            throw new RepositoryException("manifest " + source + " has format version " + version.intValue()
                    + ", written by a newer powdb-backup; this version reads up to " + Manifest.FORMAT_VERSION
                    + ". Upgrade powdb-backup to use this backup.");
        }
        if (version.intValue() < 1) {
            throw new IntegrityException("manifest " + source + " has an invalid format_version " + version);
        }
        JsonNode stored = tree.remove(CHECKSUM_FIELD);
        if (stored == null || !stored.isTextual() || !Blake3.isHex(stored.asText())) {
            throw new IntegrityException("manifest " + source + " is damaged: its checksum field is missing");
        }
        try {
            if (!checksum(tree).equals(stored.asText())) {
                throw new IntegrityException("manifest " + source + " is damaged or was edited: its BLAKE3 checksum "
                        + "does not match its content");
            }
            Manifest manifest = Json.MAPPER.treeToValue(tree, Manifest.class);
            manifest.validate();
            return manifest;
        } catch (JsonProcessingException e) {
            throw new IntegrityException("manifest " + source + " is malformed: " + firstLine(e));
        }
    }

    private static String checksum(ObjectNode tree) throws JsonProcessingException {
        return Blake3.hex(Json.MAPPER.writeValueAsBytes(tree));
    }

    private static String firstLine(Exception e) {
        String message = String.valueOf(e.getMessage());
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline);
    }
}
