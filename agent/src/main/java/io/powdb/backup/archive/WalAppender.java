package io.powdb.backup.archive;

import io.powdb.backup.scratch.ScratchFiles;
import io.powdb.backup.integrity.Blake3;
import io.powdb.backup.repo.IntegrityException;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RepositoryException;
import io.powdb.backup.repo.WalAnchor;
import io.powdb.backup.store.BlobNotFoundException;
import io.powdb.backup.wal.WalFileHeader;
import io.powdb.backup.wal.WalReader;
import io.powdb.backup.wal.WalRecord;
import io.powdb.backup.wal.WalStop;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * Carries out a {@link WalPlan} on a restored directory: proves the timeline continues the restored backup,
 * then appends its records to wal.log up to the last COMMIT at or below the plan's stop LSN, so that PowDB's
 * recovery on open replays them and lands exactly there. Every segment is checked against its chain before a
 * byte of it is used.
 */
public final class WalAppender {
    private static final int COMPARE_CHUNK = 64 * 1024;

    private final Repository repository;
    private final Path tempDir;

    public WalAppender(Repository repository, Path tempDir) {
        this.repository = repository;
        this.tempDir = tempDir;
    }

    /** What was appended: the records, and the LSN recovery will reach (the last appended commit). */
    public record Result(long records, long bytes, int segments, Long reachedLsn) {
    }

    /** @param walFile the restored wal.log, which must exist */
    public Result append(WalPlan plan, Path walFile) throws IOException {
        try (FileChannel wal = FileChannel.open(walFile, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            WalAnchor anchor = plan.base().walAnchor();
            byte[] chain = WalSegment.CHAIN_START;
            for (WalSegment s : plan.checked()) {
                byte[] digest = hashLocal(wal, anchor.walOffset() + (s.startOffset() - anchor.fileOffset()), s.length());
                chain = WalSegment.nextChain(chain, digest);
                if (!Arrays.equals(chain, s.chainBytes())) {
                    throw new IntegrityException("the shipped WAL does not continue backup " + plan.base().id() + ": "
                            + s + " differs from the WAL the backup copied (or is damaged). Restore to the backup "
                            + "itself, or pick another timeline with --timeline.");
                }
            }
            long out = wal.size();
            long committedEnd = out;
            Long reached = null;
            long records = 0;
            long lastLsn = plan.base().walEndLsn() == null ? 0 : plan.base().walEndLsn();
            boolean lsnKnown = plan.base().walEndLsn() != null;
            int used = 0;
            boolean done = false;
            WalSegment previous = plan.checked().isEmpty() ? null : plan.checked().get(plan.checked().size() - 1);
            Files.createDirectories(tempDir);
            for (WalSegment s : plan.applied()) {
                if (done) {
                    break;
                }
                if (previous == null || previous.generation() != s.generation()) {
                    chain = WalSegment.CHAIN_START; // the segment starts its generation, so its chain
                }
                Path copy = ScratchFiles.create(tempDir, "powdb-restore-wal-", ".seg");
                try {
                    chain = download(s, copy, chain);
                    previous = s;
                    used++;
                    try (FileChannel seg = FileChannel.open(copy, StandardOpenOption.READ)) {
                        long skip = 0;
                        if (plan.holdsJoin(s)) {
                            skip = plan.fromOffset() - s.startOffset();
                            compareHead(wal, anchor.walOffset() + (s.startOffset() - anchor.fileOffset()), seg, skip, plan, s);
                        }
                        WalReader reader = WalReader.over(seg, WalFileHeader.ABSENT, skip, seg.size(), WalReader.DEFAULT_BUFFER_SIZE);
                        long from = -1;
                        long to = -1;
                        for (WalRecord r = reader.next(); r != null; r = reader.next()) {
                            if (Long.compareUnsigned(r.lsn(), plan.stopLsn()) > 0) {
                                done = true;
                                break;
                            }
                            if (lsnKnown && Long.compareUnsigned(r.lsn(), lastLsn) <= 0) {
                                throw new IntegrityException(s + " holds LSN " + Long.toUnsignedString(r.lsn())
                                        + " after LSN " + Long.toUnsignedString(lastLsn) + ": the WAL goes backwards");
                            }
                            lastLsn = r.lsn();
                            lsnKnown = true;
                            if (from < 0) {
                                from = r.offset();
                            }
                            to = r.end();
                            records++;
                            if (r.isCommit()) {
                                committedEnd = out + (to - from);
                                reached = r.lsn();
                            }
                        }
                        if (!done && reader.stop() != WalStop.END) {
                            throw new IntegrityException(s + " is damaged: its records stop at byte "
                                    + reader.validPrefixLength() + " of " + seg.size() + " (" + reader.stop() + ")");
                        }
                        if (from >= 0) {
                            long n = to - from;
                            for (long moved = 0; moved < n; ) {
                                moved += seg.transferTo(from + moved, n - moved, wal.position(out + moved));
                            }
                            out += n;
                        }
                    }
                } finally {
                    Files.deleteIfExists(copy);
                }
            }
            wal.truncate(committedEnd);
            wal.force(true);
            return new Result(records, committedEnd, used, reached);
        }
    }

    /** Downloads a segment, checks it against the chain, and returns the chain after it. */
    private byte[] download(WalSegment s, Path file, byte[] previousChain) throws IOException {
        String key = repository.key(s.key());
        SegmentDownload download;
        try {
            download = SegmentDownload.of(repository, s, file);
        } catch (BlobNotFoundException e) {
            throw new IntegrityException("WAL segment " + key + " is missing from the repository");
        } catch (IntegrityException e) {
            throw e;
        } catch (IOException e) {
            if (e.getMessage() != null && e.getMessage().contains("No space left")) {
                throw e;
            }
            throw new RepositoryException("could not read WAL segment " + key + ": " + e.getMessage(), e);
        }
        if (download.size() != s.length()) {
            throw new IntegrityException("WAL segment " + key + " is damaged: " + download.size() + " bytes instead of "
                    + s.length());
        }
        byte[] chain = download.chainAfter(s, previousChain);
        if (chain == null) {
            throw new IntegrityException("WAL segment " + key + " is damaged (its BLAKE3 does not match the chain "
                    + "in its name) or does not follow the segment before it");
        }
        return chain;
    }

    private static byte[] hashLocal(FileChannel wal, long position, long length) throws IOException {
        Blake3 hash = new Blake3();
        ByteBuffer buf = ByteBuffer.allocate(COMPARE_CHUNK);
        long done = 0;
        while (done < length) {
            buf.clear().limit((int) Math.min(buf.capacity(), length - done));
            int n = wal.read(buf, position + done);
            if (n < 0) {
                throw new IntegrityException("the restored wal.log (" + wal.size() + " bytes) is shorter than its "
                        + "manifest's wal_anchor says: no bytes at " + (position + done));
            }
            hash.update(buf.array(), 0, n);
            done += n;
        }
        return HexFormat.of().parseHex(hash.hex());
    }

    private static void compareHead(FileChannel wal, long walPosition, FileChannel seg, long length, WalPlan plan,
            WalSegment s) throws IOException {
        ByteBuffer a = ByteBuffer.allocate(COMPARE_CHUNK);
        ByteBuffer b = ByteBuffer.allocate(COMPARE_CHUNK);
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(COMPARE_CHUNK, length - done);
            a.clear().limit(n);
            b.clear().limit(n);
            readFully(wal, a, walPosition + done);
            readFully(seg, b, done);
            if (!a.flip().equals(b.flip())) {
                throw new IntegrityException("the shipped WAL does not continue backup " + plan.base().id() + ": " + s
                        + " differs from the WAL the backup copied. Restore to the backup itself, or pick another "
                        + "timeline with --timeline.");
            }
            done += n;
        }
    }

    private static void readFully(FileChannel channel, ByteBuffer buf, long position) throws IOException {
        while (buf.hasRemaining()) {
            if (channel.read(buf, position + buf.position()) < 0) {
                throw new IntegrityException("the restored wal.log (" + channel.size() + " bytes) is shorter than its "
                        + "manifest's wal_anchor says: no bytes at " + (position + buf.position()));
            }
        }
    }
}
