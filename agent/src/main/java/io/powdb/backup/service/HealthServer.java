package io.powdb.backup.service;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * The agent's HTTP endpoints for orchestrators and monitoring, on the JDK's built-in server:
 * <ul>
 *   <li>{@code GET /healthz}: 200 {@code ok} while the process runs (liveness);</li>
 *   <li>{@code GET /readyz}: 200 or 503, the body a one-line reason, from the caller's {@link Readiness}
 *       supplier (readiness);</li>
 *   <li>{@code GET /metrics}: 200, {@code text/plain; version=0.0.4; charset=utf-8}, the Prometheus scrape.</li>
 * </ul>
 * Any other path is 404; a method other than GET or HEAD on those paths is 405 (HEAD answers like GET without a
 * body, as HTTP requires of a general-purpose server). The query string is ignored.
 *
 * <p>The endpoints have no authentication, and {@code /metrics} says what the agent backs up and how, so bind to
 * a loopback or cluster-internal address. Responses never carry exception messages or stack traces: a failing
 * readiness supplier answers 503 {@code readiness check failed}, a failing scrape 500
 * {@code metrics unavailable}. A readiness reason is cut to one line of at most {@value #MAX_REASON} characters
 * with URL user-info removed ({@link JsonLog#scrub}); still, do not put secrets in it.
 *
 * <p>Requests are handled by two daemon threads, so the readiness supplier and the scrape must be quick and
 * must not block on backup work (read volatile state instead). The JDK's dispatcher thread is not a daemon:
 * {@link #close()} the server on shutdown.
 */
public final class HealthServer implements AutoCloseable {
    /** Whether the agent should receive work now, and why (or why not) in a few words. */
    public record Readiness(boolean ready, String reason) {
        public static Readiness ready(String reason) {
            return new Readiness(true, reason);
        }

        public static Readiness notReady(String reason) {
            return new Readiness(false, reason);
        }
    }

    static final String METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
    private static final String TEXT_CONTENT_TYPE = "text/plain; charset=utf-8";
    static final int MAX_REASON = 200;
    private static final int THREADS = 2;

    private final HttpServer server;
    private final ExecutorService executor;
    private final Supplier<Readiness> readiness;
    private final Supplier<String> metrics;
    private final AtomicBoolean closed = new AtomicBoolean();

    private HealthServer(HttpServer server, ExecutorService executor, Supplier<Readiness> readiness,
                         Supplier<String> metrics) {
        this.server = server;
        this.executor = executor;
        this.readiness = readiness;
        this.metrics = metrics;
    }

    /**
     * Starts serving {@code metrics}' scrape on {@code host:port}.
     *
     * @param host an address of this machine, e.g. {@code 127.0.0.1}, or {@code 0.0.0.0} for all
     * @param port 0 to pick a free port; see {@link #port()}
     * @throws IOException if the address cannot be bound (in use, not local, ...)
     */
    public static HealthServer start(String host, int port, AgentMetrics metrics, Supplier<Readiness> readiness)
            throws IOException {
        Objects.requireNonNull(metrics, "metrics");
        return start(new InetSocketAddress(Objects.requireNonNull(host, "host"), port), readiness, metrics::scrape);
    }

    /**
     * Starts serving on {@code bind}, with {@code /metrics} answering {@code scrape}'s text (already in the
     * Prometheus text format 0.0.4).
     */
    public static HealthServer start(InetSocketAddress bind, Supplier<Readiness> readiness, Supplier<String> scrape)
            throws IOException {
        Objects.requireNonNull(bind, "bind");
        Objects.requireNonNull(readiness, "readiness");
        Objects.requireNonNull(scrape, "scrape");
        if (bind.isUnresolved()) {
            throw new IOException("cannot resolve bind address " + bind.getHostString());
        }
        HttpServer server = HttpServer.create(bind, 16);
        ExecutorService executor = Executors.newFixedThreadPool(THREADS, daemonThreads());
        HealthServer health = new HealthServer(server, executor, readiness, scrape);
        try {
            server.setExecutor(executor);
            server.createContext("/", health::handle);
            server.start();
        } catch (RuntimeException e) {
            health.close();
            throw e;
        }
        return health;
    }

    /** The port bound, the one picked if 0 was asked for. */
    public int port() {
        return server.getAddress().getPort();
    }

    public InetSocketAddress address() {
        return server.getAddress();
    }

    /** Stops listening and drops open connections; returns within about a second. Idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        server.stop(0);
        executor.shutdownNow();
        try {
            executor.awaitTermination(500, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void handle(HttpExchange exchange) {
        try (exchange) {
            drain(exchange.getRequestBody());
            String path = exchange.getRequestURI().getPath();
            String method = exchange.getRequestMethod();
            boolean head = "HEAD".equals(method);
            if (!"/healthz".equals(path) && !"/readyz".equals(path) && !"/metrics".equals(path)) {
                respond(exchange, 404, TEXT_CONTENT_TYPE, "not found", head);
                return;
            }
            if (!head && !"GET".equals(method)) {
                exchange.getResponseHeaders().set("Allow", "GET, HEAD");
                respond(exchange, 405, TEXT_CONTENT_TYPE, "method not allowed", false);
                return;
            }
            switch (path) {
                case "/healthz" -> respond(exchange, 200, TEXT_CONTENT_TYPE, "ok", head);
                case "/readyz" -> readyz(exchange, head);
                default -> metrics(exchange, head);
            }
        } catch (IOException | RuntimeException e) {
            // The client went away, or the response could not be written: nothing to tell anyone.
        }
    }

    private void readyz(HttpExchange exchange, boolean head) throws IOException {
        Readiness state;
        try {
            state = readiness.get();
        } catch (RuntimeException e) {
            respond(exchange, 503, TEXT_CONTENT_TYPE, "readiness check failed", head);
            return;
        }
        if (state == null) {
            respond(exchange, 503, TEXT_CONTENT_TYPE, "readiness unknown", head);
            return;
        }
        String reason = oneLine(state.reason());
        if (reason.isEmpty()) {
            reason = state.ready() ? "ready" : "not ready";
        }
        respond(exchange, state.ready() ? 200 : 503, TEXT_CONTENT_TYPE, reason, head);
    }

    private void metrics(HttpExchange exchange, boolean head) throws IOException {
        String text;
        try {
            text = metrics.get();
        } catch (RuntimeException e) {
            respond(exchange, 500, TEXT_CONTENT_TYPE, "metrics unavailable", head);
            return;
        }
        if (text == null) {
            respond(exchange, 500, TEXT_CONTENT_TYPE, "metrics unavailable", head);
            return;
        }
        byte[] body = text.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", METRICS_CONTENT_TYPE);
        exchange.getResponseHeaders().set("Cache-Control", "no-store");
        send(exchange, 200, body, head);
    }

    private static void respond(HttpExchange exchange, int status, String contentType, String text, boolean head)
            throws IOException {
        exchange.getResponseHeaders().set("Content-Type", contentType);
        exchange.getResponseHeaders().set("Cache-Control", "no-store");
        exchange.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
        send(exchange, status, (text + "\n").getBytes(StandardCharsets.UTF_8), head);
    }

    private static void send(HttpExchange exchange, int status, byte[] body, boolean head) throws IOException {
        if (head || body.length == 0) {
            exchange.sendResponseHeaders(status, -1);
            return;
        }
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    /** The reason as one short line: line breaks and control characters become spaces, URL user-info goes. */
    static String oneLine(String reason) {
        if (reason == null) {
            return "";
        }
        String scrubbed = JsonLog.scrub(reason);
        StringBuilder sb = new StringBuilder(Math.min(scrubbed.length(), MAX_REASON));
        for (int i = 0; i < scrubbed.length() && sb.length() < MAX_REASON; i++) {
            char c = scrubbed.charAt(i);
            sb.append(Character.isISOControl(c) || c == '\u2028' || c == '\u2029' ? ' ' : c);
        }
        if (sb.length() > 0 && Character.isHighSurrogate(sb.charAt(sb.length() - 1))) {
            sb.setLength(sb.length() - 1); // cut inside a pair
        }
        return sb.toString().strip();
    }

    /** Reads and discards a (small) request body so the connection can be reused. */
    private static void drain(InputStream body) throws IOException {
        byte[] buffer = new byte[1024];
        long total = 0;
        int n;
        while (total < 64 * 1024 && (n = body.read(buffer)) >= 0) {
            total += n;
        }
    }

    private static ThreadFactory daemonThreads() {
        AtomicInteger count = new AtomicInteger();
        return task -> {
            Thread thread = new Thread(task, "powdb-health-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }
}
