package io.powdb.backup.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.powdb.backup.archive.WalArchive;
import io.powdb.backup.repo.Json;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.store.s3.S3BlobStore;
import io.powdb.backup.store.s3.S3ProxyServer;
import io.powdb.backup.testing.PowDbFixture;
import io.powdb.backup.testing.WalRecord;
import io.powdb.backup.testing.WalWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent as the container image runs it: the packaged jar started with the Dockerfile's own ENTRYPOINT and CMD
 * (read from deploy/Dockerfile: the same JVM flags, the {@code agent} argument) and the settings of
 * deploy/agent.env (the file Compose and the Kubernetes ConfigMap are made from), overridden only where a test
 * must: the data directory (a PowDB fixture a writer thread keeps changing), the repository's bucket (S3Proxy),
 * its endpoint and credentials, a free port, and schedules short enough to see several cycles in seconds.
 *
 * <p>Then: backups appear and /metrics moves; a second agent on the same repository waits for the lease and
 * says so; SIGTERM ends the first with exit status 0 within the shutdown grace; the second takes over; and a
 * {@code restore --to-lsn} of the last commit, through the jar, recovers to exactly the writer's state. Runs
 * after {@code package} (failsafe).
 */
class AgentPackagedJarIT {
    private static final Path DEPLOY = Path.of("..", "deploy").toAbsolutePath().normalize();
    private static final String IMAGE_JAR = "/app/powdb-backup.jar";
    private static final Duration HTTP_TIMEOUT = Duration.ofSeconds(3);

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(HTTP_TIMEOUT).build();
    private final List<Process> started = new ArrayList<>();
    private List<String> entrypoint;
    private Map<String, String> baseEnv;

    /** One agent process: its port and where its standard output and error go. */
    record Agent(String name, Process process, int port, Path out, Path err) {
        String log() throws IOException {
            return Files.readString(out, StandardCharsets.UTF_8);
        }

        /** The JSON log lines with this {@code event}. */
        List<JsonNode> events(String event) throws IOException {
            List<JsonNode> found = new ArrayList<>();
            for (String line : log().split("\n")) {
                if (line.isBlank()) {
                    continue;
                }
                JsonNode node = Json.MAPPER.readTree(line);
                if (event.equals(node.path("event").asText())) {
                    found.add(node);
                }
            }
            return found;
        }
    }

    record Run(int exit, String out, String err) {
    }

    @Test
    @Timeout(180)
    void theImagesAgentBacksUpShipsServesMetricsAndHandsTheLeaseOverThenRestoresTheLastCommit() throws Exception {
        Map<String, String> agentEnv = readEnvFile(DEPLOY.resolve("agent.env"));
        for (String key : agentEnv.keySet()) {
            assertFalse(key.startsWith("AWS_") || key.contains("SECRET") || key.contains("PASSWORD")
                    || key.startsWith("GOOGLE_"), "agent.env becomes a ConfigMap: no credentials in it, found " + key);
        }
        entrypoint = dockerfileInstruction("ENTRYPOINT");
        assertEquals(List.of("agent"), dockerfileInstruction("CMD"), "the image runs the agent by default");
        assertEquals("java", entrypoint.get(0));
        assertEquals(List.of("-jar", IMAGE_JAR), entrypoint.subList(entrypoint.size() - 2, entrypoint.size()));
        Duration shutdownGrace = io.powdb.backup.service.Durations.parse(agentEnv.get("POWDB_BACKUP_SHUTDOWN_GRACE"));
        // A copy, as in the image: a concurrent `mvn package` cannot swap the jar under a running agent.
        Path jar = Files.copy(Path.of("target", "powdb-backup.jar"), tmp.resolve("powdb-backup.jar"));

        PowDbFixture db = PowDbFixture.create(tmp.resolve("data"), PowDbFixture.Version.V0_5, 42);
        db.createTable("a", 40);
        db.createTable("b", 12);
        db.checkpoint();
        Path initial = PowDbFixture.copyDatabase(db.dir(), tmp.resolve("initial"));
        db.deferPageWrites(true); // a buffer pool: pages written late, in any order, after their commit
        List<WalRecord> archive = Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean stopWriter = new AtomicBoolean();
        AtomicReference<Throwable> writerFailure = new AtomicReference<>();
        Thread writer = new Thread(() -> {
            Random r = new Random(7);
            try {
                while (!stopWriter.get()) {
                    db.updateRandomPages(r.nextInt(4) == 0 ? "b" : "a", 1 + r.nextInt(2));
                    db.flushSomeDirtyPages(r.nextInt(3));
                    if (r.nextInt(250) == 0) {
                        synchronized (db) { // a checkpoint truncates wal.log: keep its records for the expected state
                            archive.addAll(db.walRecords());
                            db.checkpoint();
                        }
                    }
                    Thread.sleep(3);
                }
            } catch (Throwable t) {
                writerFailure.set(t);
            }
        }, "powdb-writer");

        try (S3ProxyServer s3 = new S3ProxyServer()) {
            String prefix = repositoryPrefix(agentEnv.get("POWDB_BACKUP_REPO"));
            baseEnv = new LinkedHashMap<>(agentEnv);
            // What the test environment requires, nothing else: the fixture, S3Proxy, and cycles in seconds.
            baseEnv.put("POWDB_DATA", db.dir().toString());
            baseEnv.put("POWDB_BACKUP_REPO", "s3://" + S3ProxyServer.BUCKET + "/" + prefix);
            baseEnv.put("POWDB_BACKUP_S3_ENDPOINT", s3.endpoint().toString());
            baseEnv.put("POWDB_BACKUP_S3_REGION", "us-east-1");
            baseEnv.put("AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY);
            baseEnv.put("AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY);
            baseEnv.put("POWDB_BACKUP_INCREMENTAL_SCHEDULE", "1s");
            baseEnv.put("POWDB_BACKUP_WAL_UPLOAD", "200ms");
            baseEnv.put("POWDB_BACKUP_WAL_POLL", "50ms");
            baseEnv.put("POWDB_BACKUP_LEASE_TTL", "4s");
            List<String> command = new ArrayList<>(entrypoint);
            command.set(0, Path.of(System.getProperty("java.home"), "bin", "java").toString());
            command.set(command.size() - 1, jar.toString());
            entrypoint = command;

            writer.start();
            Agent first = startAgent("agent-1");
            await("agent-1 to serve /healthz", Duration.ofSeconds(30), () -> status(first, "/healthz") == 200);
            await("agent-1 to hold the lease", Duration.ofSeconds(15), () -> metric(first, "powdb_backup_lease_held") == 1);
            await("agent-1 to be ready", Duration.ofSeconds(10), () -> status(first, "/readyz") == 200);

            Agent second = startAgent("agent-2");
            await("agent-2 to wait for the lease", Duration.ofSeconds(30), () -> !events(second, "lease.waiting").isEmpty());
            JsonNode waiting = second.events("lease.waiting").get(0);
            assertTrue(waiting.path("msg").asText().contains("locked by agent agent-1/"), waiting.toString());
            assertEquals(200, status(second, "/healthz"));
            assertEquals(200, status(second, "/readyz"), "a standby agent is ready (healthy), only not writing");
            assertEquals(0.0, metric(second, "powdb_backup_lease_held"));

            // Several cycles: a full backup, then incrementals every second and WAL every 200 ms, all visible in
            // /metrics, which must keep moving between scrapes.
            await("a full and an incremental backup", Duration.ofSeconds(30), () ->
                    metric(first, "powdb_backup_uploaded_bytes_total{kind=\"full\"}") > 0
                            && metric(first, "powdb_backup_uploaded_bytes_total{kind=\"incremental\"}") > 0);
            Map<String, Double> previous = scrape(first);
            for (int cycle = 1; cycle <= 3; cycle++) {
                Map<String, Double> before = previous;
                await("cycle " + cycle + ": more WAL and incremental bytes uploaded", Duration.ofSeconds(20), () -> {
                    Map<String, Double> now = scrape(first);
                    return now.get("powdb_backup_uploaded_bytes_total{kind=\"wal\"}")
                            > before.get("powdb_backup_uploaded_bytes_total{kind=\"wal\"}")
                            && now.get("powdb_backup_uploaded_bytes_total{kind=\"incremental\"}")
                            > before.get("powdb_backup_uploaded_bytes_total{kind=\"incremental\"}");
                });
                previous = scrape(first);
                assertEquals(1.0, previous.get("powdb_backup_lease_held"));
                assertEquals(200, status(first, "/healthz"));
                assertEquals(200, status(first, "/readyz"));
                assertEquals(0.0, metric(second, "powdb_backup_lease_held"), "the standby never writes");
            }

            // What the repository holds, read by the jar itself, as an operator would.
            Run list = run("list", "--json");
            assertEquals(0, list.exit(), list.toString());
            JsonNode backups = Json.MAPPER.readTree(list.out());
            assertTrue(backups.size() >= 4, list.out());
            assertEquals("full", backups.get(0).path("type").asText(), list.out());
            int incrementals = 0;
            for (JsonNode b : backups) {
                assertFalse(b.hasNonNull("error"), b.toString());
                incrementals += b.path("type").asText().equals("incremental") ? 1 : 0;
            }
            assertTrue(incrementals >= 3, list.out());

            String peakMemory = peakResidentMemory(first.process()); // for sizing the container's memory limit
            // SIGTERM, as Kubernetes and Docker stop a container.
            long stopping = System.nanoTime();
            first.process().destroy();
            assertTrue(first.process().waitFor(shutdownGrace.toMillis() + 2_000, TimeUnit.MILLISECONDS),
                    "agent-1 stopped within the shutdown grace (" + shutdownGrace + ")");
            Duration took = Duration.ofNanos(System.nanoTime() - stopping);
            // The exit status is checked at the end, so that a wrong one does not hide what follows.
            int firstExit = first.process().exitValue();
            assertFalse(first.events("agent.stopped").isEmpty(), first.log());
            assertTrue(Files.readString(first.err()).isBlank(), "nothing on stderr: " + Files.readString(first.err()));

            await("agent-2 to take over the lease", Duration.ofSeconds(15), () -> metric(second, "powdb_backup_lease_held") == 1);
            assertFalse(second.events("lease.acquired").isEmpty(), second.log());
            long writerStopped;
            try (Repository repository = new Repository(new S3BlobStore(s3.config().build()), prefix + "/")) {
                // A backup by agent-2 after the writer stopped: no checkpoint comes after it, so the WAL it ships
                // from there on joins that backup whatever happened to its timeline before.
                stopWriter.set(true);
                writer.join();
                assertNull(writerFailure.get(), () -> "the writer failed: " + writerFailure.get());
                writerStopped = System.currentTimeMillis();
                await("a backup by agent-2 after the writer stopped", Duration.ofSeconds(20), () ->
                        metric(second, "powdb_backup_last_success_timestamp_seconds{kind=\"incremental\"}") * 1000
                                > writerStopped);
                db.updateRandomPages("a", 1); // the last commit
                long last = db.lastLsn();
                await("the last commit shipped by agent-2", Duration.ofSeconds(15), () -> {
                    try {
                        return WalArchive.load(repository).timelines().stream()
                                .anyMatch(t -> t.last().orElseThrow().lastLsn() == last);
                    } catch (IOException e) {
                        throw new AssertionError(e);
                    }
                });
                archive.addAll(db.walRecords());

                second.process().destroy();
                assertTrue(second.process().waitFor(shutdownGrace.toMillis() + 2_000, TimeUnit.MILLISECONDS),
                        "agent-2 stopped within the shutdown grace");
                int secondExit = second.process().exitValue();
                assertFalse(second.events("agent.stopped").isEmpty(), second.log());
                assertTrue(Files.readString(second.err()).isBlank(), Files.readString(second.err()));

                // Point-in-time restore of the last commit, through the jar as `docker run IMAGE restore ...` runs it.
                Path restored = tmp.resolve("restored");
                Run restore = run("restore", "--to-lsn", Long.toUnsignedString(last), "--target", restored.toString(),
                        "--json");
                assertEquals(0, restore.exit(), restore.toString());
                assertEquals(last, Json.MAPPER.readTree(restore.out()).path("restored_lsn").asLong(), restore.out());
                Path expected = stateAtCommit(initial, archive, last, db.version());
                Path actual = PowDbFixture.copyDatabase(restored, tmp.resolve("recovered"));
                PowDbFixture.open(actual, db.version(), 1); // PowDB's recovery on open: replays the restored WAL
                PowDbFixture.assertSameDatabase(expected, actual, true);
                System.out.printf("AgentPackagedJarIT: %d backups, agent-1 peak RSS %s, stopped in %d ms (exit %d), "
                        + "agent-2 exit %d, restored LSN %d%n", backups.size(), peakMemory, took.toMillis(), firstExit,
                        secondExit, last);
                // docs/AGENT.md, "Stopping": the lease is released and the process exits 0. A container runtime
                // (and a Kubernetes Job or native sidecar's restart accounting) reads 143 as "killed by SIGTERM".
                assertAll("exit status after SIGTERM",
                        () -> assertEquals(0, firstExit, "agent-1; log:\n" + tail(first)),
                        () -> assertEquals(0, secondExit, "agent-2; log:\n" + tail(second)));
            }
        } finally {
            stopWriter.set(true);
            writer.join();
            for (Process p : started) {
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS); // before @TempDir is deleted under it
            }
        }
    }

    // ------------------------------------------------------------------------------------------ processes

    private Agent startAgent(String name) throws IOException {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort(); // POWDB_BACKUP_HTTP_PORT=0 would not tell us which port it took
        }
        Map<String, String> env = new HashMap<>(baseEnv);
        env.put("POWDB_BACKUP_TEMP_DIR", tmp.resolve(name + "-tmp").toString());
        env.put("POWDB_BACKUP_HTTP_PORT", Integer.toString(port));
        env.put("HOSTNAME", name); // a pod's name: the lease holder id starts with it
        Path out = tmp.resolve(name + ".out");
        Path err = tmp.resolve(name + ".err");
        ProcessBuilder builder = new ProcessBuilder(command(List.of())).directory(tmp.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile());
        builder.environment().clear(); // a container's environment: only what it is given
        builder.environment().putAll(env);
        Process process = builder.start();
        started.add(process);
        return new Agent(name, process, port, out, err);
    }

    /** ENTRYPOINT plus {@code args} (they replace CMD, as with `docker run IMAGE args`), or plus CMD when empty. */
    private List<String> command(List<String> args) throws IOException {
        List<String> command = new ArrayList<>(entrypoint);
        command.addAll(args.isEmpty() ? dockerfileInstruction("CMD") : args);
        return command;
    }

    private Run run(String... args) throws IOException, InterruptedException {
        Path out = Files.createTempFile(tmp, "run", ".out");
        Path err = Files.createTempFile(tmp, "run", ".err");
        ProcessBuilder builder = new ProcessBuilder(command(List.of(args))).directory(tmp.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile());
        builder.environment().clear();
        builder.environment().putAll(baseEnv);
        builder.environment().put("POWDB_BACKUP_TEMP_DIR", tmp.resolve("cli-tmp").toString());
        Process process = builder.start();
        started.add(process);
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the command finished");
        return new Run(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    /** VmHWM of a process on Linux (its peak resident memory), or "unknown". */
    private static String peakResidentMemory(Process process) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(process.pid()), "status"))) {
                if (line.startsWith("VmHWM:")) {
                    return line.substring("VmHWM:".length()).strip();
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or already gone
        }
        return "unknown";
    }

    private static String tail(Agent agent) throws IOException {
        String log = agent.log();
        return log.length() > 4000 ? log.substring(log.length() - 4000) : log;
    }

    private static List<JsonNode> events(Agent agent, String event) {
        try {
            return agent.events(event);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static void await(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout.toSeconds() + "s waiting for " + what);
            }
            Thread.sleep(50);
        }
    }

    // ----------------------------------------------------------------------------------------------- HTTP

    private HttpResponse<String> get(Agent agent, String path) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + agent.port() + path))
                .timeout(HTTP_TIMEOUT).GET().build();
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    /** The status of GET {@code path}, or -1 while nothing answers. */
    private int status(Agent agent, String path) {
        try {
            return get(agent, path).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static final Pattern SAMPLE = Pattern.compile("^(\\S+?(?:\\{[^}]*})?) (\\S+)$");

    /** Every series of /metrics by name and labels as rendered, e.g. {@code powdb_backup_lease_held}. */
    private Map<String, Double> scrape(Agent agent) {
        try {
            HttpResponse<String> response = get(agent, "/metrics");
            assertEquals(200, response.statusCode());
            Map<String, Double> series = new HashMap<>();
            for (String line : response.body().split("\n")) {
                Matcher m = SAMPLE.matcher(line);
                if (!line.startsWith("#") && m.matches()) {
                    series.put(m.group(1), Double.parseDouble(m.group(2)));
                }
            }
            return series;
        } catch (IOException e) {
            throw new AssertionError("no /metrics from " + agent.name() + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private double metric(Agent agent, String series) {
        Double value = scrape(agent).get(series);
        if (value == null) {
            throw new AssertionError(agent.name() + " has no series " + series);
        }
        return value;
    }

    // ------------------------------------------------------------------------------------- deploy/ files

    /** deploy/agent.env: KEY=value lines, '#' comments, blank lines (what Compose and kustomize read). */
    static Map<String, String> readEnvFile(Path file) throws IOException {
        Map<String, String> env = new LinkedHashMap<>();
        Set<String> seen = new HashSet<>();
        for (String raw : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int eq = line.indexOf('=');
            assertTrue(eq > 0, "not KEY=value: " + raw);
            String key = line.substring(0, eq);
            String value = line.substring(eq + 1);
            assertTrue(key.matches("[A-Z][A-Z0-9_]*"), "key " + key);
            assertFalse(value.contains(" ") || value.startsWith("\"") || value.startsWith("'"),
                    "a value Compose, kustomize and this test read alike (no spaces, no quotes): " + raw);
            assertTrue(seen.add(key), "set twice: " + key);
            env.put(key, value);
        }
        return env;
    }

    /** The exec (JSON) form of ENTRYPOINT or CMD in deploy/Dockerfile. */
    static List<String> dockerfileInstruction(String instruction) throws IOException {
        List<String> found = null;
        for (String line : Files.readAllLines(DEPLOY.resolve("Dockerfile"), StandardCharsets.UTF_8)) {
            if (line.startsWith(instruction + " ")) {
                String json = line.substring(instruction.length()).strip();
                assertTrue(json.startsWith("["), instruction + " must be in exec form: " + line);
                found = new ArrayList<>();
                for (JsonNode item : Json.MAPPER.readTree(json)) {
                    found.add(item.asText());
                }
            }
        }
        assertTrue(found != null, "deploy/Dockerfile has no " + instruction);
        return found; // the last one wins, as in Docker
    }

    /** "prod/db1" of "s3://powdb-backups/prod/db1". */
    private static String repositoryPrefix(String url) {
        assertTrue(url.startsWith("s3://"), url);
        String rest = url.substring("s3://".length());
        int slash = rest.indexOf('/');
        assertTrue(slash > 0, url);
        String prefix = rest.substring(slash + 1);
        return prefix.endsWith("/") ? prefix.substring(0, prefix.length() - 1) : prefix;
    }

    // ------------------------------------------------------------------------------------ expected state

    /**
     * The writer's database as of {@code lsn}: {@code initial} (a checkpointed copy) with every transaction whose
     * COMMIT is at or below {@code lsn} replayed by PowDB's redo rule; {@code archive} is every WAL record written
     * since {@code initial}, in order (as BackupTestSupport#stateAtCommit in the agent's tests).
     */
    private Path stateAtCommit(Path initial, List<WalRecord> archive, long lsn, PowDbFixture.Version version)
            throws IOException {
        Path dir = PowDbFixture.copyDatabase(initial, tmp.resolve("expected"));
        Set<Long> committed = new HashSet<>();
        for (WalRecord r : archive) {
            if (r.type() == WalWriter.COMMIT && Long.compareUnsigned(r.lsn(), lsn) <= 0) {
                committed.add(r.txId());
            }
        }
        ByteArrayOutputStream wal = new ByteArrayOutputStream();
        wal.writeBytes(version.emptyWal());
        for (WalRecord r : archive) {
            if (committed.contains(r.txId())) {
                wal.writeBytes(WalWriter.encode(r.txId(), r.type(), r.lsn(), r.payload()));
            }
        }
        Files.write(dir.resolve(PowDbFixture.WAL), wal.toByteArray());
        PowDbFixture.open(dir, version, 1);
        return dir;
    }
}
