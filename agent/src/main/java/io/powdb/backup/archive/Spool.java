package io.powdb.backup.archive;

import io.powdb.backup.integrity.EveryByteInputStream;
import io.powdb.backup.scratch.ScratchFiles;
import io.powdb.backup.wal.WalFormat;
import io.powdb.backup.wal.WalRange;
import io.powdb.backup.wal.WalRecord;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The records of one generation of wal.log copied out by a {@link WalShipper} and not uploaded yet: a local
 * file holding wal.log's bytes from {@code fileBase} on. Keeps, besides, what a segment's key needs (first and
 * last LSN, last data record) and where the last COMMIT ends, since only records up to it are uploaded.
 */
final class Spool implements Closeable {
    /** The committed part of the spool, as a segment will hold it. */
    record Cut(long startOffset, long endOffset, long firstLsn, long lastLsn, long lastDataLsn, long records) {
        long length() {
            return endOffset - startOffset;
        }
    }

    /** Copies bytes into the spool. */
    interface Copy {
        void into(WritableByteChannel out) throws IOException;
    }

    final String timeline;
    final int generation;
    private final Path tempDir;
    private Path file;
    private FileChannel channel;
    private long fileBase;
    private WalRecord first;
    private long count;
    private long dataLsn;
    WalRecord lastCommit;
    private long countThroughCommit;
    private WalRecord firstAfterCommit;
    private long dataLsnAfterCommit;
    long shippedBytes;
    long shippedRecords;

    private Spool(Path tempDir, String timeline, int generation, long fileBase) throws IOException {
        this.tempDir = tempDir;
        this.timeline = timeline;
        this.generation = generation;
        this.fileBase = fileBase;
        this.file = newFile(tempDir);
        this.channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
    }

    static Spool create(Path tempDir, String timeline, int generation, WalRecord first) throws IOException {
        return new Spool(tempDir, timeline, generation, first.offset());
    }

    private static Path newFile(Path tempDir) throws IOException {
        return ScratchFiles.create(tempDir, "powdb-backup-wal-", ".spool");
    }

    /** Writes the bytes of {@code range} (which starts where the spool's records end, or earlier after a rollback). */
    void write(WalRange range, Copy copy) throws IOException {
        long at = range.startOffset() - fileBase;
        if (at < 0 || at > channel.size()) {
            throw new IllegalStateException("records at offset " + range.startOffset() + " do not follow the spool of "
                    + "offsets " + fileBase + ".." + (fileBase + channel.size()));
        }
        channel.truncate(at);
        channel.position(at);
        copy.into(channel);
    }

    void add(WalRecord record) {
        if (first == null) {
            first = record;
        }
        count++;
        boolean data = record.type() == WalFormat.INSERT || record.type() == WalFormat.UPDATE
                || record.type() == WalFormat.DELETE;
        if (record.isCommit()) {
            if (dataLsnAfterCommit != 0) {
                dataLsn = dataLsnAfterCommit;
            }
            lastCommit = record;
            countThroughCommit = count;
            firstAfterCommit = null;
            dataLsnAfterCommit = 0;
        } else {
            if (lastCommit != null && firstAfterCommit == null) {
                firstAfterCommit = record;
            }
            if (data) {
                if (lastCommit == null) {
                    dataLsn = record.lsn();
                } else {
                    dataLsnAfterCommit = record.lsn();
                }
            }
        }
    }

    /** wal.log was cut back to {@code newEndOffset} (a rollback, never below a commit): so is the spool. */
    void rollBack(long newEndOffset, long dropped) throws IOException {
        count -= dropped;
        if (count <= countThroughCommit) {
            count = countThroughCommit;
            firstAfterCommit = null;
            dataLsnAfterCommit = 0; // an over-estimate is kept otherwise: it only makes joins stricter
        }
        if (count == 0) {
            first = null;
            dataLsn = 0;
        }
        long keep = Math.max(newEndOffset - fileBase, committedBytes());
        if (keep < channel.size()) {
            channel.truncate(Math.max(0, keep));
        }
    }

    /** Bytes from the start of the spool to the end of its last commit. */
    long committedBytes() {
        return lastCommit == null ? 0 : lastCommit.end() - fileBase;
    }

    /** The generation ended: records after the last commit are abandoned. */
    void seal() throws IOException {
        channel.truncate(committedBytes());
        channel.force(false);
    }

    Cut committed() {
        return new Cut(fileBase, lastCommit.end(), first.lsn(), lastCommit.lsn(), dataLsn, countThroughCommit);
    }

    /** The first {@code length} bytes of the spool. */
    InputStream read(long length) throws IOException {
        return new EveryByteInputStream(Files.newInputStream(file)) {
            private long left = length;

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (left <= 0) {
                    return -1;
                }
                int n = in.read(b, off, (int) Math.min(len, left));
                if (n > 0) {
                    left -= n;
                }
                return n;
            }
        };
    }

    /** The committed part was uploaded: the spool now starts just after it. */
    void shipped(Cut cut) throws IOException {
        shippedBytes = cut.length();
        shippedRecords = cut.records();
        Path next = newFile(tempDir);
        FileChannel nextChannel = FileChannel.open(next, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            long tail = channel.size() - cut.length();
            for (long moved = 0; moved < tail; ) {
                moved += channel.transferTo(cut.length() + moved, tail - moved, nextChannel);
            }
        } catch (IOException | RuntimeException e) {
            nextChannel.close();
            Files.deleteIfExists(next);
            throw e;
        }
        close();
        file = next;
        channel = nextChannel;
        fileBase = cut.endOffset();
        first = firstAfterCommit;
        count -= countThroughCommit;
        dataLsn = dataLsnAfterCommit;
        lastCommit = null;
        countThroughCommit = 0;
        firstAfterCommit = null;
        dataLsnAfterCommit = 0;
    }

    @Override
    public void close() throws IOException {
        channel.close();
        Files.deleteIfExists(file);
    }
}
