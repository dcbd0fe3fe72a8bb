package io.powdb.backup.archive;

import io.powdb.backup.scratch.ScratchFiles;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.store.BlobNotFoundException;
import io.powdb.backup.wal.WalFileHeader;
import io.powdb.backup.wal.WalReader;
import io.powdb.backup.wal.WalRecord;
import io.powdb.backup.wal.WalStop;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks the shipped WAL without restoring: every segment is downloaded, its bytes checked against the chain
 * in its name, its records parsed (whole, CRCs right, LSNs rising, first and last LSN as named, ending on a
 * commit), and each timeline checked for holes between segments and generations.
 */
public final class WalVerifier {
    private final Repository repository;
    private final Path tempDir;

    public WalVerifier(Repository repository, Path tempDir) {
        this.repository = repository;
        this.tempDir = tempDir;
    }

    /** What was checked, and every problem found (empty when all is well). */
    public record Result(int segments, long bytes, List<String> failures) {
    }

    public Result verify(WalArchive archive) throws IOException {
        List<String> failures = new ArrayList<>();
        int segments = 0;
        long bytes = 0;
        Files.createDirectories(tempDir);
        for (WalArchive.Timeline t : archive.timelines()) {
            WalSegment previous = null;
            for (WalArchive.Generation g : t.generations()) {
                byte[] chain = WalSegment.CHAIN_START;
                WalSegment before = null;
                for (WalSegment s : g.segments()) {
                    if (before != null && s.startOffset() != before.endOffset()) {
                        failures.add("timeline " + t.id() + " generation " + g.number() + ": bytes " + before.endOffset()
                                + ".." + s.startOffset() + " are missing (after LSN " + Long.toUnsignedString(before.lastLsn())
                                + ")");
                        chain = null; // the chain cannot be followed past a hole
                    } else if (before == null && previous != null && s.firstLsn() != previous.lastLsn() + 1) {
                        failures.add("timeline " + t.id() + ": WAL is missing between LSN "
                                + Long.toUnsignedString(previous.lastLsn()) + " and LSN " + Long.toUnsignedString(s.firstLsn()));
                    }
                    segments++;
                    bytes += s.length();
                    chain = check(s, chain, failures);
                    before = s;
                    previous = s;
                }
            }
        }
        return new Result(segments, bytes, failures);
    }

    /** Checks one segment; returns the chain after it, or null when it cannot be trusted. */
    private byte[] check(WalSegment s, byte[] chain, List<String> failures) throws IOException {
        String key = repository.key(s.key());
        Path copy = ScratchFiles.create(tempDir, "powdb-verify-wal-", ".seg");
        try {
            SegmentDownload download;
            try {
                download = SegmentDownload.of(repository, s, copy);
            } catch (BlobNotFoundException e) {
                failures.add(key + " is missing");
                return null;
            } catch (io.powdb.backup.crypto.EncryptionKeyException e) {
                throw e; // not damage: the wrong key, or none
            } catch (io.powdb.backup.repo.IntegrityException e) {
                failures.add(e.getMessage());
                return null;
            }
            byte[] next = null;
            if (chain != null) {
                next = download.chainAfter(s, chain);
                if (next == null) {
                    failures.add(key + " is damaged: its BLAKE3 does not match the chain in its name");
                    return null;
                }
            }
            try (FileChannel channel = FileChannel.open(copy, StandardOpenOption.READ)) {
                if (channel.size() != s.length()) {
                    failures.add(key + " has " + channel.size() + " bytes instead of " + s.length());
                    return null;
                }
                WalReader reader = WalReader.over(channel, WalFileHeader.ABSENT, 0, channel.size(), WalReader.DEFAULT_BUFFER_SIZE);
                WalRecord first = null;
                WalRecord last = null;
                for (WalRecord r = reader.next(); r != null; r = reader.next()) {
                    if (last != null && Long.compareUnsigned(r.lsn(), last.lsn()) <= 0) {
                        failures.add(key + ": LSN " + Long.toUnsignedString(r.lsn()) + " follows "
                                + Long.toUnsignedString(last.lsn()));
                        return null;
                    }
                    first = first == null ? r : first;
                    last = r;
                }
                if (reader.stop() != WalStop.END || first == null || first.lsn() != s.firstLsn()
                        || last.lsn() != s.lastLsn() || !last.isCommit()) {
                    failures.add(key + " does not hold whole records LSN " + Long.toUnsignedString(s.firstLsn()) + ".."
                            + Long.toUnsignedString(s.lastLsn()) + " ending on a commit (" + reader.stop() + ")");
                    return null;
                }
            }
            return next;
        } finally {
            Files.deleteIfExists(copy);
        }
    }
}
