package io.powdb.backup.service;

import io.powdb.backup.crypto.EncryptionKeyException;
import io.powdb.backup.crypto.MasterKey;
import io.powdb.backup.repo.BackupCatalog;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.store.local.LocalBlobStore;
import io.powdb.backup.testing.BackupTestSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent with an encryption key: it backs up and ships encrypted, and neither its JSON logs nor its metrics
 * hold key material; a restore without the key is refused.
 */
class EncryptedAgentTest extends BackupTestSupport {
    @Test
    @Timeout(60)
    void theAgentEncryptsAndNeverLogsTheKey() throws Exception {
        Path keyFile = tmp.resolve("repository.key");
        MasterKey.generateFile(keyFile);
        MasterKey key = MasterKey.load(keyFile).key();
        String line = Files.readAllLines(keyFile).stream().filter(l -> l.startsWith("key: ")).findFirst().orElseThrow();
        byte[] raw = Base64.getDecoder().decode(line.substring(5).strip());
        List<String> secrets = List.of(Base64.getEncoder().encodeToString(raw), HexFormat.of().formatHex(raw),
                Base64.getEncoder().withoutPadding().encodeToString(raw), Base64.getUrlEncoder().encodeToString(raw));

        db.createTable("a", 16);
        db.checkpoint();
        Map<String, String> env = new HashMap<>();
        env.put("POWDB_DATA", db.dir().toString());
        env.put("POWDB_BACKUP_REPO", tmp.resolve("repo").toString());
        env.put("POWDB_BACKUP_TEMP_DIR", tmp.resolve("agent-tmp").toString());
        env.put("POWDB_BACKUP_INCREMENTAL_SCHEDULE", "300ms");
        env.put("POWDB_BACKUP_WAL_POLL", "20ms");
        env.put("POWDB_BACKUP_WAL_UPLOAD", "100ms");
        env.put("POWDB_BACKUP_LEASE_TTL", "4s");
        env.put("POWDB_BACKUP_LOG_FORMAT", "json");
        env.put("POWDB_BACKUP_ENCRYPTION_KEY_FILE", keyFile.toString());
        AgentConfig config = AgentConfig.from(env);
        assertTrue(config.encryptionKeyFile().equals(keyFile));

        ByteArrayOutputStream logs = new ByteArrayOutputStream();
        AgentMetrics metrics = new AgentMetrics();
        try (Repository encrypted = new Repository(new LocalBlobStore(tmp.resolve("repo")), "", key)) {
            BackupAgent agent = new BackupAgent(config, encrypted, metrics,
                    new JsonLog(new PrintStream(logs, true, StandardCharsets.UTF_8), JsonLog.Format.JSON), Clock.systemUTC());
            agent.start();
            try {
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (BackupCatalog.load(encrypted).ids().size() < 2 || encrypted.store().listAll("wal/").isEmpty()) {
                    assertTrue(System.nanoTime() < deadline, "no backups or WAL: " + logs);
                    db.updateRandomPages("a", 2);
                    Thread.sleep(50);
                }
            } finally {
                agent.stop();
            }
            assertTrue(encrypted.marker().orElseThrow().encrypted());
            Path restored = restoreWith(encrypted);
            assertTrue(Files.exists(restored.resolve("a.heap")));
        }
        String out = logs.toString(StandardCharsets.UTF_8) + metrics.scrape();
        assertTrue(out.contains("\"encryption\":\"on\""), out);
        for (String secret : secrets) {
            assertFalse(out.contains(secret), "key material in the agent's logs or metrics");
        }
        // the repository the agent wrote cannot be read without the key
        Path target = newTarget();
        assertThrows(EncryptionKeyException.class, () -> restore(new RestorePoint.Latest(), target));
        assertFalse(Files.exists(target));
    }

    private Path restoreWith(Repository r) throws Exception {
        Path target = newTarget();
        new io.powdb.backup.restore.RestoreService(r).restore(new RestorePoint.Latest(), target,
                io.powdb.backup.restore.RestoreOptions.defaults());
        return target;
    }
}
