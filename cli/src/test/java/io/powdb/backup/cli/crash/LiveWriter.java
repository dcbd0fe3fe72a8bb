package io.powdb.backup.cli.crash;

import io.powdb.backup.testing.PowDbFixture;
import io.powdb.backup.testing.WalRecord;
import io.powdb.backup.testing.WalWriter;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A running server, in a thread of the test: transactions on random pages, pages kept dirty and flushed late and
 * out of order, and (when asked) checkpoints at random moments. Keeps every WAL record it wrote since it started,
 * so that the state at any LSN can be rebuilt ({@link #stateAt}) from the checkpointed copy it started from.
 */
final class LiveWriter implements AutoCloseable {
    private final PowDbFixture db;
    private final List<WalRecord> archive = Collections.synchronizedList(new ArrayList<>());
    private final AtomicBoolean stop = new AtomicBoolean();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final Thread thread;
    private boolean stopped;

    /** @param checkpointOneIn a checkpoint after about one transaction in this many; 0 for none */
    LiveWriter(PowDbFixture db, long seed, int checkpointOneIn) {
        this.db = db;
        if (!db.isQuiescent()) {
            throw new IllegalStateException("the writer starts from a checkpointed database");
        }
        db.deferPageWrites(true);
        List<String> tables = db.tableNames();
        this.thread = new Thread(() -> {
            Random r = CrashRuns.random(seed * 31 + 7);
            try {
                while (!stop.get()) {
                    db.updateRandomPages(tables.get(r.nextInt(tables.size())), 1 + r.nextInt(3));
                    db.flushSomeDirtyPages(r.nextInt(4));
                    if (checkpointOneIn > 0 && r.nextInt(checkpointOneIn) == 0) {
                        checkpoint();
                    }
                    Thread.sleep(1 + r.nextInt(3));
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        }, "powdb-writer");
    }

    LiveWriter start() {
        thread.start();
        return this;
    }

    /** A checkpoint, keeping the records it truncates away for the model. */
    private void checkpoint() throws IOException {
        synchronized (db) {
            archive.addAll(db.walRecords());
            db.checkpoint();
        }
    }

    /** Stops writing, checkpoints (the database is then quiescent) and returns every record written. */
    List<WalRecord> stopAndCheckpoint() throws IOException, InterruptedException {
        stop();
        checkpoint();
        db.deferPageWrites(false);
        return List.copyOf(archive);
    }

    /** Stops writing, leaving the WAL as it is; returns every record written (the ones still in wal.log last). */
    List<WalRecord> stopWithoutCheckpoint() throws IOException, InterruptedException {
        stop();
        List<WalRecord> all = new ArrayList<>(archive);
        all.addAll(db.walRecords());
        return all;
    }

    private void stop() throws InterruptedException {
        if (!stopped) {
            stop.set(true);
            thread.join();
            stopped = true;
            if (failure.get() != null) {
                throw new AssertionError("the writer failed", failure.get());
            }
        }
    }

    /**
     * The writer's state as of {@code lsn}: {@code initial} (the checkpointed copy it started from) with every
     * transaction that has a record at or below {@code lsn} replayed by PowDB's redo rule. A backup's LSN is its
     * last commit (crash-consistent) or largest page LSN (quiescent), so a transaction is in it exactly then.
     */
    static Path stateAt(Path initial, List<WalRecord> archive, long lsn, Path dest, PowDbFixture.Version version)
            throws IOException {
        Path dir = PowDbFixture.copyDatabase(initial, dest);
        Set<Long> transactions = new HashSet<>();
        for (WalRecord r : archive) {
            if (Long.compareUnsigned(r.lsn(), lsn) <= 0) {
                transactions.add(r.txId());
            }
        }
        ByteArrayOutputStream wal = new ByteArrayOutputStream();
        wal.writeBytes(version.emptyWal());
        for (WalRecord r : archive) {
            if (transactions.contains(r.txId())) {
                wal.writeBytes(WalWriter.encode(r.txId(), r.type(), r.lsn(), r.payload()));
            }
        }
        Files.write(dir.resolve(PowDbFixture.WAL), wal.toByteArray());
        PowDbFixture.open(dir, version, 1);
        return dir;
    }

    /** What PowDB makes of a restored directory on open: a copy of it, recovered by WAL replay. */
    static Path recovered(Path dir, Path dest, PowDbFixture.Version version) throws IOException {
        Path copy = PowDbFixture.copyDatabase(dir, dest);
        PowDbFixture.open(copy, version, 1);
        return copy;
    }

    @Override
    public void close() throws Exception {
        if (!stopped) {
            stop.set(true);
            thread.join();
        }
    }
}
