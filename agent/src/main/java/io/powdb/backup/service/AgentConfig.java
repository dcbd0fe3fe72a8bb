package io.powdb.backup.service;

import io.powdb.backup.backup.Compression;
import io.powdb.backup.concurrent.Workers;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * Everything the long-running agent is told, from environment variables (twelve-factor: what a container
 * is given) and optionally a file of the same {@code KEY=value} lines ({@code POWDB_BACKUP_CONFIG}); the
 * environment wins. Every setting, its default and meaning is in {@link #SETTINGS} (and docs/AGENT.md,
 * which a test keeps in step with it). Unknown {@code POWDB_BACKUP_*} keys are refused: a typo must not
 * silently leave a default in place.
 */
public record AgentConfig(
        Path dataDir,
        String repository,
        Path tempDir,
        Schedule fullSchedule,
        Schedule incrementalSchedule,
        Duration walPoll,
        Duration walUpload,
        Duration walHeartbeat,
        int keepFull,
        Duration keepWithin,
        Duration pruneGrace,
        Schedule pruneSchedule,
        Duration leaseTtl,
        String httpBind,
        int httpPort,
        boolean jsonLogs,
        Duration shutdownGrace,
        Compression compression,
        int parallelism,
        Path encryptionKeyFile) {

    /** One setting: its name, default and what it does. */
    public record Setting(String name, String defaultValue, String meaning) {
    }

    public static final List<Setting> SETTINGS = List.of(
            new Setting("POWDB_DATA", "/data", "The PowDB data directory (the volume shared with the PowDB container)."),
            new Setting("POWDB_BACKUP_REPO", "", "Where backups go: a path, file:/path, s3://bucket/prefix or "
                    + "gs://bucket/prefix. Required."),
            new Setting("POWDB_BACKUP_TEMP_DIR", "/tmp", "Scratch space: page maps while comparing, the WAL spool."),
            new Setting("POWDB_BACKUP_FULL_SCHEDULE", "24h", "When to take a full backup (a new chain): an interval "
                    + "since the last full backup (24h), or a cron expression in UTC ('0 3 * * *', '@daily')."),
            new Setting("POWDB_BACKUP_INCREMENTAL_SCHEDULE", "1h", "When to take an incremental backup: interval or "
                    + "cron. Also taken right away when the WAL shipper reports a break, so point-in-time restore "
                    + "resumes."),
            new Setting("POWDB_BACKUP_WAL_POLL", "250ms", "How often new WAL records are copied into the local spool."),
            new Setting("POWDB_BACKUP_WAL_UPLOAD", "5s", "How often the spooled committed records are uploaded as a "
                    + "segment: the most a restore can be behind the server."),
            new Setting("POWDB_BACKUP_WAL_HEARTBEAT", "60s", "How often the shipper records that nothing newer was "
                    + "committed."),
            new Setting("POWDB_BACKUP_KEEP_FULL", "7", "Retention: keep the N newest full backups and everything "
                    + "built on them (0: no count rule)."),
            new Setting("POWDB_BACKUP_KEEP_WITHIN", "7d", "Retention: keep what restores any point in this window "
                    + "(0: no time rule). Kept is what either rule keeps."),
            new Setting("POWDB_BACKUP_PRUNE_GRACE", "24h", "Leftovers of interrupted backups are deleted once older "
                    + "than this."),
            new Setting("POWDB_BACKUP_PRUNE_SCHEDULE", "6h", "When to prune: interval or cron."),
            new Setting("POWDB_BACKUP_LEASE_TTL", "60s", "How long the repository lease lasts without renewal; a "
                    + "crashed agent's lease lapses after it. Renewed every quarter of it."),
            new Setting("POWDB_BACKUP_HTTP_BIND", "0.0.0.0", "Address of the /healthz, /readyz and /metrics endpoint."),
            new Setting("POWDB_BACKUP_HTTP_PORT", "9187", "Port of that endpoint (0: a free port, -1: off)."),
            new Setting("POWDB_BACKUP_LOG_FORMAT", "text", "'text' or 'json' (one JSON object per line)."),
            new Setting("POWDB_BACKUP_SHUTDOWN_GRACE", "25s", "On SIGTERM, how long work in flight may take to finish "
                    + "before it is abandoned (keep it below Kubernetes' terminationGracePeriodSeconds)."),
            new Setting("POWDB_BACKUP_COMPRESSION", Compression.DEFAULT, "How backups store heap images, page packs "
                    + "and whole files: 'zstd:LEVEL' (1 fastest to 19; 'zstd' is level 1), readable with 'zstd -d', or "
                    + "'none' (as they are). Page maps and shipped WAL are never compressed."),
            new Setting("POWDB_BACKUP_PARALLELISM", Workers.AUTO, "How many files a backup reads, compresses and "
                    + "uploads at once: 'auto' (the cores the container may use, at most 4) or 1 to 64."),
            new Setting("POWDB_BACKUP_ENCRYPTION_KEY_FILE", "", "A key file written by 'powdb-backup keygen' (e.g. a "
                    + "Kubernetes Secret mounted as a file): backups and shipped WAL are encrypted with it, and an "
                    + "encrypted repository needs it. Unset: no encryption."),
            new Setting("POWDB_BACKUP_CONFIG", "", "A file of KEY=value lines with any of these settings; the "
                    + "environment wins."));

    /** Settings read elsewhere (store options), which the unknown-key check must let through. */
    private static final List<String> STORE_PREFIXES = List.of("POWDB_BACKUP_S3_", "POWDB_BACKUP_GCS_");
    private static final List<String> OTHER_KNOWN = List.of("POWDB_BACKUP_DEBUG");

    public static AgentConfig load(Map<String, String> env) throws IOException {
        Map<String, String> values = new LinkedHashMap<>();
        String file = env.get("POWDB_BACKUP_CONFIG");
        if (file != null && !file.isBlank()) {
            values.putAll(readFile(Path.of(file)));
        }
        env.forEach((k, v) -> {
            if (k.startsWith("POWDB_")) {
                values.put(k, v);
            }
        });
        return from(values);
    }

    static Map<String, String> readFile(Path file) throws IOException {
        Properties props = new Properties();
        try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            props.load(in);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IllegalArgumentException("POWDB_BACKUP_CONFIG names " + file + ", which does not exist");
        }
        Map<String, String> values = new LinkedHashMap<>();
        for (String key : props.stringPropertyNames()) {
            values.put(key.trim(), props.getProperty(key).trim());
        }
        return values;
    }

    static AgentConfig from(Map<String, String> values) {
        List<String> unknown = new ArrayList<>();
        for (String key : values.keySet()) {
            boolean known = SETTINGS.stream().anyMatch(s -> s.name().equals(key)) || OTHER_KNOWN.contains(key)
                    || STORE_PREFIXES.stream().anyMatch(key::startsWith) || !key.startsWith("POWDB_BACKUP_");
            if (!known) {
                unknown.add(key);
            }
        }
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("unknown settings " + unknown + " (see docs/AGENT.md for the list)");
        }
        Values r = new Values(values);
        String repo = r.get("POWDB_BACKUP_REPO");
        if (repo.isBlank()) {
            throw new IllegalArgumentException("POWDB_BACKUP_REPO is not set: say where backups go (a path, "
                    + "s3://bucket/prefix or gs://bucket/prefix)");
        }
        int keepFull = r.integer("POWDB_BACKUP_KEEP_FULL", 0, 100_000);
        Duration keepWithin = r.durationOrZero("POWDB_BACKUP_KEEP_WITHIN");
        if (keepFull == 0 && keepWithin == null) {
            throw new IllegalArgumentException("POWDB_BACKUP_KEEP_FULL and POWDB_BACKUP_KEEP_WITHIN are both 0: "
                    + "retention would keep nothing; set at least one");
        }
        String format = r.get("POWDB_BACKUP_LOG_FORMAT").toLowerCase(Locale.ROOT);
        if (!format.equals("text") && !format.equals("json")) {
            throw new IllegalArgumentException("POWDB_BACKUP_LOG_FORMAT is '" + format + "': use text or json");
        }
        Duration ttl = r.duration("POWDB_BACKUP_LEASE_TTL");
        if (ttl.compareTo(Duration.ofSeconds(4)) < 0) {
            throw new IllegalArgumentException("POWDB_BACKUP_LEASE_TTL must be at least 4s");
        }
        return new AgentConfig(Path.of(r.get("POWDB_DATA")), repo, Path.of(r.get("POWDB_BACKUP_TEMP_DIR")),
                r.schedule("POWDB_BACKUP_FULL_SCHEDULE"), r.schedule("POWDB_BACKUP_INCREMENTAL_SCHEDULE"),
                r.duration("POWDB_BACKUP_WAL_POLL"), r.duration("POWDB_BACKUP_WAL_UPLOAD"),
                r.duration("POWDB_BACKUP_WAL_HEARTBEAT"), keepFull, keepWithin, r.duration("POWDB_BACKUP_PRUNE_GRACE"),
                r.schedule("POWDB_BACKUP_PRUNE_SCHEDULE"), ttl, r.get("POWDB_BACKUP_HTTP_BIND"),
                r.integer("POWDB_BACKUP_HTTP_PORT", -1, 65535), format.equals("json"),
                r.duration("POWDB_BACKUP_SHUTDOWN_GRACE"), r.compression("POWDB_BACKUP_COMPRESSION"),
                Workers.parseParallelism(r.get("POWDB_BACKUP_PARALLELISM"), "POWDB_BACKUP_PARALLELISM"),
                r.get("POWDB_BACKUP_ENCRYPTION_KEY_FILE").isBlank() ? null
                        : Path.of(r.get("POWDB_BACKUP_ENCRYPTION_KEY_FILE")));
    }

    /** The settings as the agent reads them, for its start-up log line (nothing secret is among them). */
    public Map<String, Object> describe() {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("data_dir", dataDir.toString());
        d.put("repository", repository);
        d.put("full", fullSchedule.toString());
        d.put("incremental", incrementalSchedule.toString());
        d.put("wal_poll", Durations.format(walPoll));
        d.put("wal_upload", Durations.format(walUpload));
        d.put("keep_full", keepFull);
        d.put("keep_within", keepWithin == null ? "off" : Durations.format(keepWithin));
        d.put("prune", pruneSchedule.toString());
        d.put("lease_ttl", Durations.format(leaseTtl));
        d.put("http", httpPort < 0 ? "off" : httpBind + ":" + httpPort);
        d.put("compression", compression.toString());
        d.put("parallelism", parallelism);
        d.put("encryption", encryptionKeyFile == null ? "off" : "on"); // the key file's path is not secret, its content is
        return d;
    }

    private record Values(Map<String, String> values) {
        String get(String name) {
            String v = values.get(name);
            if (v == null || v.isBlank()) {
                return SETTINGS.stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow().defaultValue();
            }
            return v.trim();
        }

        Duration duration(String name) {
            try {
                return Durations.parse(get(name));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(name + ": " + e.getMessage());
            }
        }

        Duration durationOrZero(String name) {
            String v = get(name);
            return v.equals("0") ? null : duration(name);
        }

        Compression compression(String name) {
            try {
                return Compression.parse(get(name));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(name + ": " + e.getMessage());
            }
        }

        Schedule schedule(String name) {
            return Schedule.parse(get(name), name);
        }

        int integer(String name, int min, int max) {
            try {
                int v = Integer.parseInt(get(name));
                if (v < min || v > max) {
                    throw new NumberFormatException();
                }
                return v;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(name + " is '" + get(name) + "': expected a whole number from "
                        + min + " to " + max);
            }
        }
    }
}
