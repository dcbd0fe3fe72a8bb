package io.powdb.backup.service;

import com.fasterxml.jackson.databind.JsonNode;
import io.powdb.backup.repo.Json;
import io.powdb.backup.service.JsonLog.Format;
import io.powdb.backup.service.JsonLog.Level;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JsonLogTest {
    private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-11-21T10:00:00Z"), ZoneOffset.UTC);

    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(bytes, false, StandardCharsets.UTF_8);

    private JsonLog log(Format format) {
        return new JsonLog(out, format, Level.DEBUG, CLOCK);
    }

    private List<String> lines() {
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(text.isEmpty() || text.endsWith("\n"), "every line is terminated");
        return text.isEmpty() ? List.of() : List.of(text.split("\n", -1)).subList(0, text.split("\n", -1).length - 1);
    }

    private static JsonNode parse(String line) {
        try {
            return Json.MAPPER.readTree(line); // strict: a repeated key fails
        } catch (IOException e) {
            throw new UncheckedIOException("not JSON: " + line, e);
        }
    }

    private JsonNode onlyJsonLine() {
        List<String> lines = lines();
        assertEquals(1, lines.size(), () -> String.join("\n", lines));
        return parse(lines.get(0));
    }

    private static Map<String, Object> fields(Object... keyValues) {
        Map<String, Object> map = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            map.put((String) keyValues[i], keyValues[i + 1]);
        }
        return map;
    }

    @Test
    void aJsonLineHasTheFixedFieldsThenTheCallersInOrder() {
        log(Format.JSON).log(Level.INFO, "backup.done", "full backup done",
                fields("backup_id", "20261121T100000Z-full", "bytes", 1024, "objects", 3L, "ok", true,
                        "took", Duration.ofMillis(1500), "none", null, "ratio", 0.5));

        JsonNode line = onlyJsonLine();
        List<String> names = new ArrayList<>();
        line.fieldNames().forEachRemaining(names::add);
        assertEquals(List.of("ts", "level", "event", "msg", "backup_id", "bytes", "objects", "ok", "took", "none",
                "ratio"), names);
        assertEquals("2026-11-21T10:00:00.000Z", line.get("ts").asText());
        assertEquals("INFO", line.get("level").asText());
        assertEquals("backup.done", line.get("event").asText());
        assertEquals("full backup done", line.get("msg").asText());
        assertEquals("20261121T100000Z-full", line.get("backup_id").asText());
        assertEquals(1024, line.get("bytes").asInt());
        assertEquals(3, line.get("objects").asLong());
        assertTrue(line.get("ok").asBoolean());
        assertEquals("PT1.5S", line.get("took").asText());
        assertTrue(line.get("none").isNull());
        assertEquals(0.5, line.get("ratio").asDouble());
    }

    @Test
    void withoutAMessageMsgIsEmptyAndFieldsMayBeNull() {
        JsonLog log = log(Format.JSON);
        log.log(Level.WARN, "lease.lost", null);
        JsonNode line = onlyJsonLine();
        assertEquals("", line.get("msg").asText());
        assertEquals("WARN", line.get("level").asText());
        assertEquals(4, line.size());
    }

    @Test
    void aFieldNamedLikeAFixedOneIsRenamedNotRepeated() {
        log(Format.JSON).log(Level.INFO, "e", "m", fields("level", "debug", "ts", 1, "_ts", 2));
        JsonNode line = onlyJsonLine(); // parsing rejects duplicate keys
        assertEquals("INFO", line.get("level").asText());
        assertEquals("debug", line.get("_level").asText());
        assertEquals(1, line.get("_ts").asInt());
        assertEquals(2, line.get("__ts").asInt());
    }

    @Test
    void multiLineTextStaysOnOneLine() {
        JsonLog json = log(Format.JSON);
        json.log(Level.ERROR, "restore.failed", "line one\nline two\r\n", fields("detail", "a\nb"));
        JsonLog text = log(Format.TEXT);
        text.log(Level.ERROR, "restore.failed", "line one\nline two", fields("detail", "a\nb"));
        List<String> lines = lines();
        assertEquals(2, lines.size());
        assertEquals("line one\nline two\r\n", parse(lines.get(0)).get("msg").asText());
        assertEquals("2026-11-21T10:00:00.000Z ERROR restore.failed line one\\nline two detail=\"a\\nb\"",
                lines.get(1));
    }

    @Test
    void aTextLineIsTimestampLevelEventMessageThenKeyValues() {
        log(Format.TEXT).log(Level.INFO, "backup.done", "full backup done",
                fields("bytes", 1024, "target", "s3://bucket/a b", "quote", "say \"hi\"", "empty", "",
                        "password", "hunter2", "lsn", -1L, "list", List.of(1, 2)));
        assertEquals(List.of("2026-11-21T10:00:00.000Z INFO backup.done full backup done bytes=1024"
                + " target=\"s3://bucket/a b\" quote=\"say \\\"hi\\\"\" empty=\"\" password=[redacted]"
                + " lsn=18446744073709551615 list=[1,2]"), lines());

        bytes.reset();
        log(Format.TEXT).log(Level.DEBUG, "wal.poll", Map.of());
        assertEquals(List.of("2026-11-21T10:00:00.000Z DEBUG wal.poll"), lines());
    }

    @Test
    void longsAreUnsignedAsEverywhereInTheAgent() {
        log(Format.JSON).log(Level.INFO, "wal.position", fields("lsn", -1L, "delta", -1));
        JsonNode line = onlyJsonLine();
        assertEquals("18446744073709551615", line.get("lsn").asText());
        assertEquals(-1, line.get("delta").asInt());
    }

    @ParameterizedTest
    @ValueSource(strings = {"password", "db_password", "PGPASSWORD", "passwd", "clientSecret", "secret",
            "AWS_SECRET_ACCESS_KEY", "secret_key_id", "token", "auth_token", "sessionToken", "credentials",
            "google_application_credentials", "Authorization", "cookie", "key", "api_key", "apiKey", "apikey",
            "access_key", "accessKey", "private_key_pem", "encryption.key", "ssh-key", "keys"})
    void aSecretLookingFieldIsRedacted(String name) {
        log(Format.JSON).log(Level.INFO, "config.loaded", fields(name, "s3cr3t-value"));
        String line = lines().get(0);
        assertFalse(line.contains("s3cr3t-value"), line);
        assertEquals("[redacted]", parse(line).get(name).asText());
        assertTrue(JsonLog.isSecretName(name));
    }

    @ParameterizedTest
    @ValueSource(strings = {"key_id", "keyId", "access_key_id", "AWS_ACCESS_KEY_ID", "accessKeyId", "kms_key_arn",
            "key_name", "kms_key_alias", "monkey", "turnkey", "keyspace", "object", "path", "bucket", "bytes",
            "backup_id", "lsn"})
    void aFieldNamingAKeyOrUnrelatedIsKept(String name) {
        log(Format.JSON).log(Level.INFO, "config.loaded", fields(name, "AKIDEXAMPLE"));
        assertEquals("AKIDEXAMPLE", onlyJsonLine().get(name).asText());
        assertFalse(JsonLog.isSecretName(name));
    }

    @Test
    void nestedSecretsAreRedactedToo() {
        Map<String, Object> s3 = fields("bucket", "b", "secret_access_key", "nested-secret",
                "endpoints", List.of("https://u:list-secret@s3.example.com"));
        log(Format.JSON).log(Level.INFO, "config.loaded", fields("s3", s3, "password_chars",
                "x", "pin", "1234".toCharArray()));
        String raw = lines().get(0);
        assertFalse(raw.contains("nested-secret"), raw);
        assertFalse(raw.contains("list-secret"), raw);
        JsonNode line = parse(raw);
        assertEquals("b", line.get("s3").get("bucket").asText());
        assertEquals("[redacted]", line.get("s3").get("secret_access_key").asText());
        assertEquals("https://s3.example.com", line.get("s3").get("endpoints").get(0).asText());
        assertEquals("[redacted]", line.get("pin").asText(), "char[] is how Java holds passwords");
    }

    @Test
    void urlUserInfoIsRemovedWhereverItAppears() {
        JsonLog log = log(Format.JSON);
        log.log(Level.ERROR, "store.failed", "PUT to https://admin:pa55@minio.local:9000/bucket/x failed",
                fields("endpoint", "s3://AKIA:abc/def+g@h@s3.eu-west-1.amazonaws.com/bucket?x=1",
                        "user_only", "sftp://backup@host/path",
                        "plain", "https://host/a/b?c=d#e",
                        "email", "ops@example.com",
                        "error", new IllegalStateException("outer",
                                new java.io.IOException("connect postgres://pow:db-pass@db:5432/powdb refused"))));
        String raw = lines().get(0);
        for (String secret : List.of("pa55", "abc/def", "h@s3", "db-pass", "backup@")) {
            assertFalse(raw.contains(secret), secret + " in " + raw);
        }
        JsonNode line = parse(raw);
        assertEquals("PUT to https://minio.local:9000/bucket/x failed", line.get("msg").asText());
        assertEquals("s3://s3.eu-west-1.amazonaws.com/bucket?x=1", line.get("endpoint").asText());
        assertEquals("sftp://host/path", line.get("user_only").asText());
        assertEquals("https://host/a/b?c=d#e", line.get("plain").asText());
        assertEquals("ops@example.com", line.get("email").asText());
        assertEquals("java.lang.IllegalStateException: outer; caused by java.io.IOException: "
                + "connect postgres://db:5432/powdb refused", line.get("error").asText());

        assertEquals("see s3://h/x and gs://b", JsonLog.scrub("see s3://u:p@h/x and gs://k@b"));
        assertEquals("no url here: a:b@c", JsonLog.scrub("no url here: a:b@c"));
    }

    @Test
    void levelsBelowTheMinimumAreDropped() {
        JsonLog log = new JsonLog(out, Format.JSON, Level.INFO, CLOCK);
        log.debug("wal.poll", "nothing new", Map.of());
        log.info("backup.start", "starting", Map.of());
        log.warn("backup.slow", "slow", Map.of());
        log.error("backup.failed", "failed", Map.of());
        List<String> levels = lines().stream().map(l -> parse(l).get("level").asText()).toList();
        assertEquals(List.of("INFO", "WARN", "ERROR"), levels);
    }

    @Test
    void eightThreadsLoggingProduceOnlyWholeLines() throws Exception {
        // An unbuffered stream that hands each byte over separately, so unsynchronized writers would interleave.
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        OutputStream byteByByte = new OutputStream() {
            @Override
            public void write(int b) {
                synchronized (sink) {
                    sink.write(b);
                }
                if ((b & 0x3f) == 0) {
                    Thread.yield();
                }
            }
        };
        PrintStream stream = new PrintStream(byteByByte, false, StandardCharsets.UTF_8);
        int threads = 8;
        int perThread = 300;
        for (Format format : Format.values()) {
            sink.reset();
            JsonLog log = new JsonLog(stream, format, Level.DEBUG, CLOCK);
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            CountDownLatch start = new CountDownLatch(1);
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                futures.add(pool.submit(() -> {
                    start.await();
                    for (int i = 0; i < perThread; i++) {
                        log.log(Level.INFO, "wal.shipped", "segment shipped to s3://k:s@host/b",
                                fields("thread", thread, "i", i, "padding", "x".repeat(50 + i % 17)));
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : futures) {
                f.get(60, TimeUnit.SECONDS);
            }
            pool.shutdown();

            String text = sink.toString(StandardCharsets.UTF_8);
            String[] lines = text.split("\n", -1);
            assertEquals("", lines[lines.length - 1], "ends with a newline");
            assertEquals(threads * perThread, lines.length - 1);
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < lines.length - 1; i++) {
                String line = lines[i];
                if (format == Format.JSON) {
                    JsonNode node = parse(line);
                    assertEquals("segment shipped to s3://host/b", node.get("msg").asText());
                    assertEquals(50 + node.get("i").asInt() % 17, node.get("padding").asText().length());
                    seen.add(node.get("thread").asInt() + "/" + node.get("i").asInt());
                } else {
                    assertTrue(line.matches("2026-11-21T10:00:00\\.000Z INFO wal\\.shipped segment shipped to "
                            + "s3://host/b thread=\\d+ i=\\d+ padding=x+"), line);
                    seen.add(line.replaceAll(".* thread=(\\d+) i=(\\d+) .*", "$1/$2"));
                }
            }
            assertEquals(threads * perThread, seen.size(), "every event exactly once");
        }
    }
}
