package io.powdb.backup.service;

import io.powdb.backup.service.HealthServer.Readiness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HealthServerTest {
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final AgentMetrics metrics = new AgentMetrics();
    private final AtomicReference<Readiness> readiness =
            new AtomicReference<>(Readiness.notReady("waiting for the first full backup"));
    private HealthServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private HealthServer start() throws IOException {
        server = HealthServer.start("127.0.0.1", 0, metrics, readiness::get);
        return server;
    }

    private HttpResponse<String> send(String method, String path) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .timeout(Duration.ofSeconds(5))
                .method(method, HttpRequest.BodyPublishers.noBody())
                .build();
        return client.send(request, HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return send("GET", path);
    }

    @Test
    void bindsTheAskedAddressOnAPickedPort() throws IOException {
        start();
        assertTrue(server.port() > 0);
        assertEquals("127.0.0.1", server.address().getAddress().getHostAddress());
    }

    @Test
    void healthzIsOkWhileRunning() throws Exception {
        start();
        HttpResponse<String> response = get("/healthz");
        assertEquals(200, response.statusCode());
        assertEquals("ok", response.body().strip());
        assertEquals("text/plain; charset=utf-8", response.headers().firstValue("Content-Type").orElseThrow());
    }

    @Test
    void readyzFollowsTheSupplierWithTheReasonInTheBody() throws Exception {
        start();
        HttpResponse<String> response = get("/readyz");
        assertEquals(503, response.statusCode());
        assertEquals("waiting for the first full backup\n", response.body());

        readiness.set(Readiness.ready("lease held, last backup 2m ago"));
        response = get("/readyz");
        assertEquals(200, response.statusCode());
        assertEquals("lease held, last backup 2m ago\n", response.body());

        readiness.set(Readiness.notReady("lease lost"));
        response = get("/readyz?verbose=1");
        assertEquals(503, response.statusCode());
        assertEquals("lease lost\n", response.body());

        readiness.set(Readiness.ready(null));
        response = get("/readyz");
        assertEquals(200, response.statusCode());
        assertEquals("ready\n", response.body());
    }

    @Test
    void aReasonIsOneShortLineWithoutCredentials() throws Exception {
        start();
        readiness.set(Readiness.notReady("cannot reach s3://AKIDEXAMPLE:wJalrXUtnFEMI@minio:9000/bucket\n"
                + "\tat io.powdb.Something.method(Something.java:12)\n" + "x".repeat(500)));
        HttpResponse<String> response = get("/readyz");
        assertEquals(503, response.statusCode());
        String body = response.body();
        assertEquals(body.length() - 1, body.indexOf('\n'), "exactly one line");
        assertTrue(body.startsWith("cannot reach s3://minio:9000/bucket "), body);
        assertFalse(body.contains("wJalrXUtnFEMI"), body);
        assertTrue(body.length() <= HealthServer.MAX_REASON + 1, body);
    }

    @Test
    void aFailingSupplierIsNotReadyWithoutDetails() throws Exception {
        server = HealthServer.start("127.0.0.1", 0, metrics, () -> {
            throw new IllegalStateException("password=hunter2 at /etc/powdb/agent.conf");
        });
        HttpResponse<String> response = get("/readyz");
        assertEquals(503, response.statusCode());
        assertEquals("readiness check failed\n", response.body());
        assertEquals(200, get("/healthz").statusCode(), "liveness does not depend on readiness");
    }

    @Test
    void metricsServesTheScrape() throws Exception {
        start();
        metrics.backupFailed("full", "store");
        HttpResponse<String> response = get("/metrics");
        assertEquals(200, response.statusCode());
        assertEquals("text/plain; version=0.0.4; charset=utf-8",
                response.headers().firstValue("Content-Type").orElseThrow());
        assertTrue(response.body().contains("powdb_backup_failures_total{cause=\"store\",kind=\"full\"} 1.0\n"),
                response.body());
        assertTrue(response.body().contains("# TYPE powdb_backup_lease_held gauge\n"), response.body());
    }

    @Test
    void aFailingScrapeIsA500WithoutDetails() throws Exception {
        server = HealthServer.start(new InetSocketAddress("127.0.0.1", 0), readiness::get, () -> {
            throw new IllegalStateException("secret internals");
        });
        HttpResponse<String> response = get("/metrics");
        assertEquals(500, response.statusCode());
        assertEquals("metrics unavailable\n", response.body());
    }

    @Test
    void otherPathsAre404AndOtherMethods405() throws Exception {
        start();
        assertEquals(404, get("/").statusCode());
        assertEquals(404, get("/healthz/").statusCode());
        assertEquals(404, get("/metrics.json").statusCode());
        assertEquals(404, send("POST", "/admin").statusCode());

        for (String method : new String[] {"POST", "PUT", "DELETE", "OPTIONS"}) {
            HttpResponse<String> response = send(method, "/healthz");
            assertEquals(405, response.statusCode(), method);
            assertEquals("GET, HEAD", response.headers().firstValue("Allow").orElseThrow());
        }
        assertEquals(405, send("POST", "/metrics").statusCode());
        assertEquals(405, send("DELETE", "/readyz").statusCode());
    }

    @Test
    void headAnswersLikeGetWithoutABody() throws Exception {
        start();
        HttpResponse<String> response = send("HEAD", "/healthz");
        assertEquals(200, response.statusCode());
        assertEquals("", response.body());
        assertEquals(503, send("HEAD", "/readyz").statusCode());
    }

    @Test
    void closeStopsQuicklyAndFreesThePort() throws Exception {
        start();
        int port = server.port();
        assertEquals(200, get("/healthz").statusCode()); // leaves a kept-alive connection open
        assertEquals(200, get("/metrics").statusCode());

        long started = System.nanoTime();
        server.close();
        long tookMillis = (System.nanoTime() - started) / 1_000_000;
        assertTrue(tookMillis < 1000, "close took " + tookMillis + " ms");
        server.close(); // idempotent

        HttpClient fresh = HttpClient.newHttpClient();
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/healthz"))
                .timeout(Duration.ofSeconds(5)).build();
        assertThrows(ConnectException.class, () -> fresh.send(request, HttpResponse.BodyHandlers.ofString()));

        server = HealthServer.start("127.0.0.1", port, metrics, readiness::get);
        assertEquals(port, server.port());
        assertEquals(200, get("/healthz").statusCode());
    }

    @Test
    void aPortInUseIsAnError() throws Exception {
        start();
        assertThrows(IOException.class, () -> HealthServer.start("127.0.0.1", server.port(), metrics, readiness::get));
        assertNotEquals(0, server.port());
    }
}
