package io.powdb.backup.scratch;

import io.powdb.backup.backup.BackupResult;
import io.powdb.backup.testing.BackupTestSupport;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Scratch files of killed processes are removed; those of live processes, other hosts and strangers stay. */
class ScratchFilesTest extends BackupTestSupport {

    private static String host() {
        String owner = ScratchFiles.owner();
        return owner.substring(1, owner.indexOf('p'));
    }

    /** A process that ran and is gone: its pid and start time, as a killed agent's file names would hold. */
    private static long[] deadProcess() throws Exception {
        Process p = new ProcessBuilder("sleep", "30").start();
        long start = p.toHandle().info().startInstant().orElseThrow().toEpochMilli();
        long pid = p.pid();
        p.destroyForcibly();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        return new long[] {pid, start};
    }

    @Test
    void onlyTheFilesOfDeadProcessesOfThisHostGo() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("scratch"));
        Path mine = ScratchFiles.create(dir, "powdb-backup-wal-", ".spool");
        long[] dead = deadProcess();
        Path deadFile = Files.createFile(dir.resolve("powdb-backup-wal-h" + host() + "p" + dead[0] + "t" + dead[1] + "-1.spool"));
        Path deadMap = Files.createFile(dir.resolve("powdb-restore-h" + host() + "p" + dead[0] + "t" + dead[1] + "-2.map"));
        long self = ProcessHandle.current().pid();
        // An earlier life of this very pid (in a container the agent is pid 1 in every life).
        Path earlierLife = Files.createFile(dir.resolve("powdb-backup-h" + host() + "p" + self + "t12345-3.map"));
        Process live = new ProcessBuilder("sleep", "30").start();
        try {
            long liveStart = live.toHandle().info().startInstant().orElseThrow().toEpochMilli();
            Path liveFile = Files.createFile(dir.resolve("powdb-backup-wal-h" + host() + "p" + live.pid() + "t" + liveStart + "-4.spool"));
            Path otherHost = Files.createFile(dir.resolve("powdb-backup-wal-h0badc0dep" + dead[0] + "t" + dead[1] + "-5.spool"));
            Path oldStyle = Files.createFile(dir.resolve("powdb-backup-wal-123456.spool"));
            Path stranger = Files.createFile(dir.resolve("something-else-h" + host() + "p" + dead[0] + "t" + dead[1] + "-6"));
            Path aDirectory = Files.createDirectory(dir.resolve("powdb-backup-h" + host() + "p" + dead[0] + "t" + dead[1] + "-7.map"));

            List<String> removed = ScratchFiles.removeAbandoned(dir);

            assertEquals(3, removed.size(), removed.toString());
            assertFalse(Files.exists(deadFile));
            assertFalse(Files.exists(deadMap));
            assertFalse(Files.exists(earlierLife));
            for (Path kept : List.of(mine, liveFile, otherHost, oldStyle, stranger, aDirectory)) {
                assertTrue(Files.exists(kept), kept + " must stay");
            }
        } finally {
            live.destroyForcibly();
        }
        assertEquals(List.of(), ScratchFiles.removeAbandoned(tmp.resolve("no-such-directory")));
    }

    @Test
    void aBackupRemovesWhatKilledProcessesLeftAndSaysSo() throws Exception {
        db.createTable("t", 5);
        Path temp = Files.createDirectories(tmp.resolve("tmp"));
        long[] dead = deadProcess();
        Path spool = temp.resolve("powdb-backup-wal-h" + host() + "p" + dead[0] + "t" + dead[1] + "-x.spool");
        Files.write(spool, new byte[1 << 20]);
        BackupResult result = backup();
        assertFalse(Files.exists(spool));
        assertTrue(result.warnings().stream().anyMatch(w -> w.contains("removed 1 scratch files")), result.warnings().toString());
        try (var left = Files.list(temp)) {
            assertEquals(List.of(), left.toList(), "the backup's own scratch files are gone too");
        }
    }

    @Test
    void ownedNamesCarryTheOwner() throws IOException {
        Path dir = tmp.resolve("names");
        Path created = ScratchFiles.create(dir, "powdb-verify-wal-", ".seg");
        assertTrue(created.getFileName().toString().startsWith("powdb-verify-wal-" + ScratchFiles.owner() + "-"));
        assertEquals(dir.resolve("powdb-backup-wal-" + ScratchFiles.owner() + "-S.spool"),
                ScratchFiles.name(dir, "powdb-backup-wal-", "S.spool"));
        assertFalse(ScratchFiles.ownerIsGone(ProcessHandle.current().pid(),
                ProcessHandle.current().info().startInstant().orElseThrow().toEpochMilli()));
    }
}
