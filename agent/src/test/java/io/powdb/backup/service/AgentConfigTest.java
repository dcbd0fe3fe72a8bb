package io.powdb.backup.service;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AgentConfigTest {
    @TempDir
    Path tmp;

    @Test
    void defaultsNeedOnlyARepository() throws IOException {
        AgentConfig c = AgentConfig.load(Map.of("POWDB_BACKUP_REPO", "s3://bucket/db"));
        assertEquals(Path.of("/data"), c.dataDir());
        assertEquals(new Schedule.Every(Duration.ofHours(24)), c.fullSchedule());
        assertEquals(new Schedule.Every(Duration.ofHours(1)), c.incrementalSchedule());
        assertEquals(Duration.ofMillis(250), c.walPoll());
        assertEquals(Duration.ofSeconds(5), c.walUpload());
        assertEquals(7, c.keepFull());
        assertEquals(Duration.ofDays(7), c.keepWithin());
        assertEquals(9187, c.httpPort());
        assertEquals(Duration.ofSeconds(25), c.shutdownGrace());
        assertEquals(io.powdb.backup.backup.Compression.zstd(1), c.compression());
        assertEquals("zstd:1", c.describe().get("compression"));
    }

    @Test
    void compressionIsZstdAtALevelOrNone() throws IOException {
        assertEquals(io.powdb.backup.backup.Compression.NONE,
                AgentConfig.load(Map.of("POWDB_BACKUP_REPO", "/b", "POWDB_BACKUP_COMPRESSION", "none")).compression());
        assertEquals(io.powdb.backup.backup.Compression.zstd(6),
                AgentConfig.load(Map.of("POWDB_BACKUP_REPO", "/b", "POWDB_BACKUP_COMPRESSION", "zstd:6")).compression());
        assertMessage(Map.of("POWDB_BACKUP_REPO", "/b", "POWDB_BACKUP_COMPRESSION", "lz4"), "POWDB_BACKUP_COMPRESSION");
        assertMessage(Map.of("POWDB_BACKUP_REPO", "/b", "POWDB_BACKUP_COMPRESSION", "zstd:42"), "1 (fastest) to 19");
    }

    @Test
    void aFileGivesSettingsAndTheEnvironmentWins() throws IOException {
        Path file = tmp.resolve("agent.properties");
        Files.writeString(file, "# comment\nPOWDB_BACKUP_REPO=/backups\nPOWDB_BACKUP_FULL_SCHEDULE=0 3 * * *\n"
                + "POWDB_BACKUP_KEEP_FULL=3\n");
        Map<String, String> env = new HashMap<>();
        env.put("POWDB_BACKUP_CONFIG", file.toString());
        env.put("POWDB_BACKUP_KEEP_FULL", "5");
        AgentConfig c = AgentConfig.load(env);
        assertEquals("/backups", c.repository());
        assertInstanceOf(Schedule.Cron.class, c.fullSchedule());
        assertEquals(5, c.keepFull());
    }

    @Test
    void mistakesAreNamed() {
        assertMessage(Map.of(), "POWDB_BACKUP_REPO is not set");
        assertMessage(Map.of("POWDB_BACKUP_REPO", "/b", "POWDB_BACKUP_FUL_SCHEDULE", "1h"), "POWDB_BACKUP_FUL_SCHEDULE");
        assertMessage(Map.of("POWDB_BACKUP_REPO", "/b", "POWDB_BACKUP_WAL_POLL", "fast"), "POWDB_BACKUP_WAL_POLL");
        assertMessage(Map.of("POWDB_BACKUP_REPO", "/b", "POWDB_BACKUP_FULL_SCHEDULE", "0 25 * * *"), "hour 25");
        assertMessage(Map.of("POWDB_BACKUP_REPO", "/b", "POWDB_BACKUP_KEEP_FULL", "0", "POWDB_BACKUP_KEEP_WITHIN", "0"),
                "keep nothing");
        assertMessage(Map.of("POWDB_BACKUP_REPO", "/b", "POWDB_BACKUP_LOG_FORMAT", "xml"), "text or json");
        assertMessage(Map.of("POWDB_BACKUP_REPO", "/b", "POWDB_BACKUP_CONFIG", "/nonexistent/agent.env"), "does not exist");
        // Store settings and other programs' variables pass.
        AgentConfig.from(Map.of("POWDB_BACKUP_REPO", "/b", "POWDB_BACKUP_S3_REGION", "eu-west-1", "POWDB_OTHER", "x"));
    }

    private static void assertMessage(Map<String, String> env, String part) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> AgentConfig.load(env));
        assertTrue(e.getMessage().contains(part), e.getMessage());
    }

    @Test
    void everySettingIsDocumentedWithItsDefault() throws IOException {
        String doc = Files.readString(Path.of("..", "docs", "AGENT.md"));
        for (AgentConfig.Setting s : AgentConfig.SETTINGS) {
            String expected = s.defaultValue().isEmpty() ? "| `" + s.name() + "` |"
                    : "| `" + s.name() + "` | `" + s.defaultValue() + "` |";
            assertTrue(doc.contains(expected), "docs/AGENT.md lacks " + expected);
        }
    }

    @Test
    void cronFindsTheNextMatchingMinuteInUtc() {
        Instant t = Instant.parse("2026-11-21T10:15:30Z");
        assertEquals(Instant.parse("2026-11-22T03:00:00Z"), CronExpression.parse("0 3 * * *").next(t));
        assertEquals(Instant.parse("2026-11-21T10:30:00Z"), CronExpression.parse("*/15 * * * *").next(t));
        assertEquals(Instant.parse("2026-11-23T00:00:00Z"), CronExpression.parse("0 0 * * 1").next(t)); // Monday
        assertEquals(Instant.parse("2026-12-01T00:00:00Z"), CronExpression.parse("@monthly").next(t));
        assertEquals(Instant.parse("2026-11-21T11:00:00Z"), CronExpression.parse("@hourly").next(t));
        assertEquals(Instant.parse("2026-11-22T00:00:00Z"), CronExpression.parse("0 0 1,22 * *").next(t));
        assertThrows(IllegalArgumentException.class, () -> CronExpression.parse("0 0 31 2 *").next(t));
        assertThrows(IllegalArgumentException.class, () -> CronExpression.parse("61 * * * *"));
        assertThrows(IllegalArgumentException.class, () -> CronExpression.parse("* * *"));
    }

    @Test
    void schedulesCountFromTheLastRun() {
        Instant now = Instant.parse("2026-11-21T10:00:00Z");
        Schedule hourly = Schedule.parse("1h", "X");
        assertEquals(now, hourly.next(now, null));
        assertEquals(Instant.parse("2026-11-21T10:30:00Z"), hourly.next(now, Instant.parse("2026-11-21T09:30:00Z")));
        Schedule daily = Schedule.parse("0 3 * * *", "X");
        assertEquals(Instant.parse("2026-11-22T03:00:00Z"), daily.next(now, null));
        // A run missed while the agent was down is caught up at once.
        assertEquals(now, daily.next(now, Instant.parse("2026-11-19T03:00:00Z")));
        assertEquals(Instant.parse("2026-11-22T03:00:00Z"), daily.next(now, Instant.parse("2026-11-21T03:00:01Z")));
    }
}
