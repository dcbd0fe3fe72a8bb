package io.powdb.backup.archive;

import io.powdb.backup.integrity.HashingInputStream;
import io.powdb.backup.repo.Repository;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * A shipped WAL segment downloaded into a local file, with the BLAKE3 and size of what arrived: what a restore
 * ({@link WalAppender}) and a verify ({@link WalVerifier}) check before they read a record of it. Each says
 * in its own way what it found wrong.
 */
record SegmentDownload(String key, long size, byte[] digest) {
    /**
     * Downloads {@code segment} into {@code file} (which it overwrites), decrypted when the repository is
     * encrypted: size and BLAKE3 are the plaintext's, which the chain covers.
     *
     * @throws io.powdb.backup.store.BlobNotFoundException when the segment is not in the store
     */
    static SegmentDownload of(Repository repository, WalSegment segment, Path file) throws IOException {
        String key = repository.key(segment.key());
        try (InputStream raw = repository.openSegment(segment.key()); HashingInputStream in = new HashingInputStream(raw);
             OutputStream out = Files.newOutputStream(file)) {
            in.transferTo(out);
            return new SegmentDownload(key, in.count(), HexFormat.of().parseHex(in.hex()));
        }
    }

    /**
     * The chain value after this segment when it continues {@code previousChain} as the chain in its name
     * says (its bytes are the ones shipped, and it follows the segment before it), else null.
     */
    byte[] chainAfter(WalSegment segment, byte[] previousChain) {
        byte[] chain = WalSegment.nextChain(previousChain, digest);
        return Arrays.equals(chain, segment.chainBytes()) ? chain : null;
    }
}
