package io.powdb.backup.cli;

import io.powdb.backup.repo.Repository;
import io.powdb.backup.service.AgentConfig;
import io.powdb.backup.service.AgentMetrics;
import io.powdb.backup.service.BackupAgent;
import io.powdb.backup.service.HealthServer;
import io.powdb.backup.service.JsonLog;
import picocli.CommandLine.Command;

import java.time.Clock;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

@Command(name = "agent", description = {
        "Runs until stopped, next to PowDB: ships the WAL continuously, takes full and incremental backups on",
        "their schedules, prunes by the retention policy, holds the repository lease so that only one agent",
        "writes, and serves /healthz, /readyz and /metrics. Configured by environment variables (or the file",
        "named by POWDB_BACKUP_CONFIG); every setting and its default: docs/AGENT.md. SIGTERM or SIGINT stop it",
        "gracefully within POWDB_BACKUP_SHUTDOWN_GRACE."})
final class AgentCommand extends CommandBase {
    @Override
    public Integer call() throws Exception {
        AgentConfig config = AgentConfig.load(context.env());
        JsonLog log = new JsonLog(context.out(), config.jsonLogs() ? JsonLog.Format.JSON : JsonLog.Format.TEXT);
        Repository repository = RepositoryUrls.open(config.repository(), context.env(),
                loadKey(encryptionKeyFile != null ? encryptionKeyFile : config.encryptionKeyFile()));
        AgentMetrics metrics = new AgentMetrics();
        BackupAgent agent = new BackupAgent(config, repository, metrics, log, Clock.systemUTC());
        HealthServer health = config.httpPort() < 0 ? null
                : HealthServer.start(config.httpBind(), config.httpPort(), metrics, agent::readiness);
        if (health != null) {
            log.info("http.listening", "serving /healthz, /readyz and /metrics", Map.of("address",
                    config.httpBind() + ":" + health.port()));
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            agent.stop();
            if (health != null) {
                health.close();
            }
            try {
                repository.close();
            } catch (Exception ignored) {
                // exiting anyway
            }
            stopped.countDown();
        }, "powdb-backup-shutdown");
        // The shutdown hook stays for any other way the JVM is asked to exit (System.exit elsewhere).
        CountDownLatch stopRequested = StopSignals.install();
        Runtime.getRuntime().addShutdownHook(hook);
        agent.start();
        stopRequested.await();
        Runtime.getRuntime().removeShutdownHook(hook);
        hook.run();
        stopped.await();
        return 0;
    }
}
