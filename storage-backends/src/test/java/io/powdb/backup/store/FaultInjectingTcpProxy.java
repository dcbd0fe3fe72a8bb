package io.powdb.backup.store;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;

/**
 * A TCP relay on 127.0.0.1 in front of a test server on 127.0.0.1 (S3Proxy, the GCS test server) that
 * injects the faults of a bad network into real HTTP/1.1 traffic.
 *
 * <p>It follows HTTP/1.1 message framing in both directions (Content-Length, chunked, bodiless responses to
 * HEAD, 1xx interim responses such as {@code 100 Continue}), so faults land on a chosen request even when
 * the client keeps connections alive, and "mid-body" means mid-body. The faults ({@link Fault}):
 * <ul>
 *   <li>answer a request itself with an error (HTTP 500 InternalError, 503 SlowDown, in the store's own error
 *       format), without forwarding it, and close the connection;</li>
 *   <li>cut the connection after N bytes of a request body (mid-upload) or of a response body
 *       (mid-download), or at a random byte of a request or response (heads included: a response cut at
 *       byte 0 is a request the server carried out but whose answer was lost);</li>
 *   <li>stall: take a request and answer nothing for a while, or stop a response after N body bytes for a
 *       while; then close the connection.</li>
 * </ul>
 * Faults are scripted as rules ({@link #inject}: the next K matching requests), or drawn at random with a
 * seed ({@link #random}: each request gets a fault with probability p). Both are bounded in count and in
 * time and stop by themselves; {@link #clearFaults()} stops them at once, {@link #close()} ends everything,
 * stalls included. Every fault that fires is logged ({@link #injected()}), so a test can show that its
 * faults really happened.
 *
 * <p>The older constructor and {@link #refuseNext} keep their meaning: cut the first response longer than
 * a byte count, and answer the next requests with a canned response.
 */
public final class FaultInjectingTcpProxy implements AutoCloseable {
    private static final int MAX_HEAD = 64 * 1024;
    private static final Duration DEFAULT_WINDOW = Duration.ofSeconds(60);

    /** How error bodies are written: as S3 does (XML) or as the GCS JSON API does. */
    public enum Dialect { S3, GCS }

    /**
     * What a fault rule sees of a request: method, target, body length (-1 for a chunked body) and headers
     * (names in lower case).
     */
    public record Request(String method, String target, long bodyLength, Map<String, String> headers) {
        /** A header's value, or "" when absent. */
        public String header(String name) {
            return headers.getOrDefault(name.toLowerCase(Locale.ROOT), "");
        }

        @Override
        public String toString() {
            return method + " " + target;
        }
    }

    private enum Kind { RESPOND, STALL, CUT_REQUEST, CUT_RESPONSE, STALL_RESPONSE }

    /** One fault; build with the static factories. */
    public static final class Fault {
        final Kind kind;
        final int status;
        final String code;
        final String message;
        final String contentType;
        final String rawBody;
        /** Bytes relayed before the fault, counted in the body (or in the whole message if {@link #withHead}). */
        final long after;
        final boolean withHead;
        /** A random point in the whole message (head and body), drawn when the fault fires. */
        final boolean randomPoint;
        final Duration stall;

        private Fault(Kind kind, int status, String code, String message, String contentType, String rawBody,
                      long after, boolean withHead, boolean randomPoint, Duration stall) {
            this.kind = kind;
            this.status = status;
            this.code = code;
            this.message = message;
            this.contentType = contentType;
            this.rawBody = rawBody;
            this.after = after;
            this.withHead = withHead;
            this.randomPoint = randomPoint;
            this.stall = stall;
        }

        /** Answers with {@code status} and an error body in the proxy's dialect; the request never reaches the server. */
        public static Fault respond(int status, String code, String message) {
            return new Fault(Kind.RESPOND, status, code, message, null, null, 0, false, false, null);
        }

        /** HTTP 500 InternalError. */
        public static Fault internalError() {
            return respond(500, "InternalError", "We encountered an internal error. Please try again.");
        }

        /** HTTP 503 SlowDown, S3's throttling answer. */
        public static Fault slowDown() {
            return respond(503, "SlowDown", "Please reduce your request rate.");
        }

        /** HTTP 503 ServiceUnavailable: a server error that is not throttling. */
        public static Fault serviceUnavailable() {
            return respond(503, "ServiceUnavailable", "Service is unable to handle request.");
        }

        /** A canned response with a body of the caller's choosing. */
        public static Fault respondRaw(int status, String contentType, String body) {
            return new Fault(Kind.RESPOND, status, null, null, contentType, body, 0, false, false, null);
        }

        /**
         * Takes the request and sends nothing back for {@code duration}, then closes the connection; the
         * request never reaches the server. Whatever the client sends meanwhile is read and dropped.
         */
        public static Fault stall(Duration duration) {
            return new Fault(Kind.STALL, 0, null, null, null, null, 0, false, false, duration);
        }

        /** Relays {@code bytes} bytes of a request body, then drops the connection; for bodies longer than that. */
        public static Fault cutRequestBody(long bytes) {
            return new Fault(Kind.CUT_REQUEST, 0, null, null, null, null, bytes, false, false, null);
        }

        /** Relays {@code bytes} bytes of a response body, then drops the connection; for bodies longer than that. */
        public static Fault cutResponseBody(long bytes) {
            return new Fault(Kind.CUT_RESPONSE, 0, null, null, null, null, bytes, false, false, null);
        }

        /** Relays {@code bytes} bytes of a response (head included), then drops the connection. */
        public static Fault cutResponse(long bytes) {
            return new Fault(Kind.CUT_RESPONSE, 0, null, null, null, null, bytes, true, false, null);
        }

        /**
         * Relays a response head but its last {@code bytes} bytes, then drops the connection: a cut inside the
         * last header line (servers tend to put Content-Length there) or in the blank line after it.
         */
        public static Fault cutResponseHeadShort(long bytes) {
            return new Fault(Kind.CUT_RESPONSE, 0, null, null, null, null, -bytes, true, false, null);
        }

        /** Relays {@code bytes} bytes of a response body, sends nothing for {@code duration}, then closes. */
        public static Fault stallResponseBody(long bytes, Duration duration) {
            return new Fault(Kind.STALL_RESPONSE, 0, null, null, null, null, bytes, false, false, duration);
        }

        /** Drops the connection at a random byte of the request, head included (0: nothing reaches the server). */
        public static Fault cutRequestAnywhere() {
            return new Fault(Kind.CUT_REQUEST, 0, null, null, null, null, 0, true, true, null);
        }

        /** Drops the connection at a random byte of the response, head included (0: the answer is lost). */
        public static Fault cutResponseAnywhere() {
            return new Fault(Kind.CUT_RESPONSE, 0, null, null, null, null, 0, true, true, null);
        }

        /** Stops the response at a random byte, head included, for {@code duration}; then closes. */
        public static Fault stallResponseAnywhere(Duration duration) {
            return new Fault(Kind.STALL_RESPONSE, 0, null, null, null, null, 0, true, true, duration);
        }

        boolean onResponse() {
            return kind == Kind.CUT_RESPONSE || kind == Kind.STALL_RESPONSE;
        }

        /** Whether the fault can land in a message with this head and body length (-1: unknown). */
        boolean fits(long headLength, long bodyLength) {
            if (kind == Kind.RESPOND || kind == Kind.STALL || randomPoint || bodyLength < 0) {
                return true;
            }
            if (after < 0) {
                return headLength + after >= 0;
            }
            return (withHead ? headLength + bodyLength : bodyLength) > after;
        }

        @Override
        public String toString() {
            String at = randomPoint ? "at a random byte" : after < 0 ? (-after) + " bytes before the end of its head"
                    : "after " + after + (withHead ? " bytes" : " body bytes");
            return switch (kind) {
                case RESPOND -> "answer " + status + (code == null ? "" : " " + code);
                case STALL -> "stall " + stall.toMillis() + " ms";
                case CUT_REQUEST -> "cut the request " + at;
                case CUT_RESPONSE -> "cut the response " + at;
                case STALL_RESPONSE -> "stall the response " + at + " for " + stall.toMillis() + " ms";
            };
        }
    }

    /** A scripted fault: the next {@code times} matching requests get it, until the rule expires. */
    public static final class Rule {
        final Fault fault;
        final Predicate<Request> when;
        final long deadline;
        private final AtomicInteger remaining;
        private final AtomicInteger fired = new AtomicInteger();

        Rule(Fault fault, int times, Duration within, Predicate<Request> when) {
            this.fault = fault;
            this.when = when;
            this.remaining = new AtomicInteger(times);
            this.deadline = System.nanoTime() + within.toNanos();
        }

        boolean live() {
            return remaining.get() > 0 && System.nanoTime() - deadline < 0;
        }

        boolean tryFire() {
            if (System.nanoTime() - deadline >= 0) {
                return false;
            }
            if (remaining.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                fired.incrementAndGet();
                return true;
            }
            return false;
        }

        /** How often this rule's fault has fired. */
        public int fired() {
            return fired.get();
        }
    }

    /** Faults at random: each request gets one with {@code probability}, at most {@code maxFaults}, until the deadline. */
    private static final class RandomFaults {
        final Random random;
        final double probability;
        final int maxFaults;
        final long deadline;
        final List<Fault> menu;
        int drawn;

        RandomFaults(long seed, double probability, int maxFaults, Duration within, List<Fault> menu) {
            this.random = new Random(seed);
            this.probability = probability;
            this.maxFaults = maxFaults;
            this.deadline = System.nanoTime() + within.toNanos();
            this.menu = List.copyOf(menu);
        }
    }

    /** The fault chosen for one exchange, with the random point drawn if it has one. */
    private record Chosen(Fault fault, Rule rule, double point) {
    }

    /** One request and what will happen to it and to its response. */
    private static final class Exchange {
        final Request request;
        final Chosen onResponse;
        /** For {@code Expect: 100-continue}: true once the server asked for the body, false if it answered first. */
        final CompletableFuture<Boolean> sendBody = new CompletableFuture<>();

        Exchange(Request request, Chosen onResponse) {
            this.request = request;
            this.onResponse = onResponse;
        }
    }

    /** Thrown inside a pump when a fault fires mid-message: the connection is to be torn down. */
    private static final class FaultFired extends IOException {
        final Duration stall;

        FaultFired(Duration stall) {
            super("fault fired");
            this.stall = stall;
        }
    }

    private final ServerSocket server;
    private final InetSocketAddress upstream;
    private final Dialect dialect;
    private final ExecutorService pumps = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "fault-injecting-proxy");
        t.setDaemon(true);
        return t;
    });
    private final CountDownLatch closed = new CountDownLatch(1);
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicInteger requests = new AtomicInteger();
    private final AtomicInteger cuts = new AtomicInteger();
    private final List<Rule> rules = new CopyOnWriteArrayList<>();
    private final List<String> log = new CopyOnWriteArrayList<>();
    private final Object randomLock = new Object();
    private final long started = System.nanoTime();
    private RandomFaults randomFaults;

    /** A relay to {@code upstream} (127.0.0.1 only) without faults until some are injected. */
    public FaultInjectingTcpProxy(URI upstream, Dialect dialect) throws IOException {
        InetAddress address = InetAddress.getByName(upstream.getHost());
        if (!address.isLoopbackAddress()) {
            throw new UnknownHostException("the fault-injecting proxy relays to loopback only, not " + upstream);
        }
        this.upstream = new InetSocketAddress(address, upstream.getPort());
        this.dialect = dialect;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        pumps.submit(this::acceptLoop);
    }

    /**
     * A relay that cuts the first response longer than {@code cutAfterBytes} (head included) after that many
     * bytes, the way a flaky network drops a long download; Long.MAX_VALUE cuts nothing.
     */
    public FaultInjectingTcpProxy(URI upstream, long cutAfterBytes) throws IOException {
        this(upstream, Dialect.S3);
        if (cutAfterBytes != Long.MAX_VALUE) {
            inject(Fault.cutResponse(cutAfterBytes), 1, Duration.ofHours(1), r -> true);
        }
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + server.getLocalPort());
    }

    /** Client connections accepted so far. */
    public int connections() {
        return connections.get();
    }

    /** Requests seen so far, faulted or not. */
    public int requests() {
        return requests.get();
    }

    /** Connections dropped mid-message so far. */
    public int cuts() {
        return cuts.get();
    }

    /** Every fault that fired, in order: what it was and which request it hit. */
    public List<String> injected() {
        return List.copyOf(log);
    }

    /** The next {@code times} requests get {@code fault}, within the next minute. */
    public Rule inject(Fault fault, int times) {
        return inject(fault, times, DEFAULT_WINDOW, r -> true);
    }

    /**
     * The next {@code times} requests that match {@code when} (and, for body cuts, are long enough) get
     * {@code fault}; the rule expires after {@code within} whatever is left of it. Rules are tried in the
     * order they were added; an exchange gets at most one fault.
     */
    public Rule inject(Fault fault, int times, Duration within, Predicate<Request> when) {
        Rule rule = new Rule(fault, times, within, when);
        rules.add(rule);
        return rule;
    }

    /**
     * From now on, each request gets a fault drawn from {@code menu} with {@code probability}, using a
     * {@link Random} seeded with {@code seed}; at most {@code maxFaults} faults, and none after {@code within}.
     * With several requests in flight, which request draws which number depends on timing; the seed still
     * fixes the sequence of faults and their random points.
     */
    public void random(long seed, double probability, int maxFaults, Duration within, List<Fault> menu) {
        synchronized (randomLock) {
            randomFaults = new RandomFaults(seed, probability, maxFaults, within, menu);
        }
    }

    /** No more faults from now on (faults already under way, such as a stall, run their course). */
    public void clearFaults() {
        rules.clear();
        synchronized (randomLock) {
            randomFaults = null;
        }
    }

    /**
     * The next {@code count} requests get {@code status} with {@code body}, without reaching the upstream
     * server, and their connections are closed.
     */
    public void refuseNext(int count, int status, String contentType, String body) {
        inject(Fault.respondRaw(status, contentType, body), count);
    }

    // ---- choosing faults ----

    private Chosen choose(Request request, int headLength) {
        for (Rule rule : rules) {
            if (!rule.live() || !rule.when.test(request)) {
                continue;
            }
            if (rule.fault.kind == Kind.CUT_REQUEST && !rule.fault.fits(headLength, request.bodyLength())) {
                continue;
            }
            if (rule.fault.kind == Kind.CUT_REQUEST || rule.fault.onResponse()) {
                // Fires (and counts) only when the message reaches the fault's byte; see Relay.
                return new Chosen(rule.fault, rule, 0);
            }
            if (rule.fault.fits(headLength, request.bodyLength()) && rule.tryFire()) {
                return new Chosen(rule.fault, rule, 0);
            }
        }
        synchronized (randomLock) {
            RandomFaults r = randomFaults;
            if (r == null || r.drawn >= r.maxFaults || System.nanoTime() - r.deadline >= 0) {
                return null;
            }
            if (r.random.nextDouble() >= r.probability) {
                return null;
            }
            Fault fault = r.menu.get(r.random.nextInt(r.menu.size()));
            double point = r.random.nextDouble();
            if (!fault.onResponse() && !fault.fits(headLength, request.bodyLength())) {
                return null;
            }
            r.drawn++;
            return new Chosen(fault, null, point);
        }
    }

    private void logFault(Chosen chosen, Request request, String detail) {
        log.add("#" + (log.size() + 1) + " +" + (System.nanoTime() - started) / 1_000_000 + " ms " + chosen.fault
                + (detail == null ? "" : " (" + detail + ")") + ": " + request);
    }

    // ---- connections ----

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                client.setTcpNoDelay(true);
                connections.incrementAndGet();
                sockets.add(client);
                pumps.submit(() -> new Connection(client).requests());
            } catch (IOException | RuntimeException e) {
                return; // closed
            }
        }
    }

    /** One client connection, its upstream connection (opened on the first request relayed) and two pumps. */
    private final class Connection {
        final Socket client;
        final Object clientWriteLock = new Object();
        final ConcurrentLinkedQueue<Exchange> pending = new ConcurrentLinkedQueue<>();
        Socket origin;
        OutputStream toOrigin;

        Connection(Socket client) {
            this.client = client;
        }

        /** The client-to-server pump: reads requests, applies request-side faults, relays the rest. */
        void requests() {
            try {
                MessageReader in = new MessageReader(client.getInputStream());
                while (true) {
                    byte[] head = in.readHead();
                    if (head == null) {
                        return;
                    }
                    Head parsed = Head.parse(head);
                    String[] line = parsed.startLine.split(" ", 3);
                    if (line.length < 3) {
                        throw new IOException("malformed request line: " + parsed.startLine);
                    }
                    long bodyLength = parsed.chunked() ? -1 : Math.max(0, parsed.contentLength());
                    Request request = new Request(line[0].toUpperCase(Locale.ROOT), line[1], bodyLength, parsed.headers());
                    requests.incrementAndGet();
                    Chosen chosen = choose(request, head.length);
                    Fault fault = chosen == null ? null : chosen.fault;
                    if (fault != null && fault.kind == Kind.RESPOND) {
                        logFault(chosen, request, null);
                        if (!parsed.expectsContinue()) {
                            relayBody(in, parsed, OutputStream.nullOutputStream(), null);
                        }
                        answer(fault);
                        return;
                    }
                    if (fault != null && fault.kind == Kind.STALL) {
                        logFault(chosen, request, null);
                        stall(fault.stall);
                        return;
                    }
                    Relay out;
                    if (fault != null && fault.kind == Kind.CUT_REQUEST) {
                        out = faulty(originOutput(), chosen, request, head.length, bodyLength, "request");
                    } else {
                        out = new Relay(originOutput(), Long.MAX_VALUE, null, null);
                    }
                    Exchange exchange = new Exchange(request, fault != null && fault.onResponse() ? chosen : null);
                    pending.add(exchange);
                    out.write(head, 0, head.length);
                    out.flush();
                    if (parsed.expectsContinue() && !awaitContinue(exchange)) {
                        continue; // the server answered without asking for the body: the client will not send it
                    }
                    relayBody(in, parsed, out, null);
                    out.flush();
                }
            } catch (FaultFired cut) {
                cuts.incrementAndGet();
            } catch (IOException | RuntimeException e) {
                // a side closed; tear down
            } finally {
                closeAll();
            }
        }

        /** A relay that fires {@code chosen} at its byte, if the message gets that far (and the rule has some left). */
        Relay faulty(OutputStream out, Chosen chosen, Request request, int headLength, long bodyLength, String what) {
            Fault fault = chosen.fault;
            long total = bodyLength < 0 ? headLength + 1 : headLength + bodyLength;
            long at = fault.randomPoint ? (long) (chosen.point * total)
                    : fault.after < 0 ? headLength + fault.after
                    : fault.withHead ? fault.after : headLength + fault.after;
            return new Relay(out, at, fault.kind == Kind.STALL_RESPONSE ? fault.stall : null, () -> {
                if (chosen.rule != null && !chosen.rule.tryFire()) {
                    return false;
                }
                logFault(chosen, request, what + ", at byte " + at + " of "
                        + (bodyLength < 0 ? "a chunked message" : String.valueOf(total)));
                return true;
            });
        }

        boolean awaitContinue(Exchange exchange) throws IOException {
            try {
                return exchange.sendBody.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted");
            } catch (ExecutionException e) {
                throw new IOException("connection closed", e);
            }
        }

        OutputStream originOutput() throws IOException {
            if (origin == null) {
                origin = new Socket();
                sockets.add(origin);
                origin.setTcpNoDelay(true);
                origin.connect(upstream, 10_000);
                toOrigin = origin.getOutputStream();
                Socket from = origin;
                pumps.submit(() -> responses(from));
            }
            return toOrigin;
        }

        /** The server-to-client pump: relays responses, applying response-side faults. */
        void responses(Socket from) {
            try {
                MessageReader in = new MessageReader(from.getInputStream());
                OutputStream toClient = client.getOutputStream();
                while (true) {
                    byte[] head = in.readHead();
                    if (head == null) {
                        return;
                    }
                    Head parsed = Head.parse(head);
                    String[] line = parsed.startLine.split(" ", 3);
                    int status = line.length > 1 ? Integer.parseInt(line[1].trim()) : 0;
                    boolean interim = status >= 100 && status < 200;
                    Exchange exchange = interim ? pending.peek() : pending.poll();
                    if (exchange != null) {
                        exchange.sendBody.complete(status == 100);
                    }
                    boolean bodiless = interim || status == 204 || status == 304
                            || (exchange != null && exchange.request.method().equals("HEAD"));
                    boolean toTheEnd = !bodiless && !parsed.chunked() && parsed.contentLength() < 0;
                    long bodyLength = bodiless ? 0 : parsed.chunked() || toTheEnd ? -1 : parsed.contentLength();
                    Relay out = new Relay(toClient, Long.MAX_VALUE, null, null);
                    Chosen chosen = exchange == null || interim ? null : exchange.onResponse;
                    if (chosen != null && chosen.fault.fits(head.length, bodyLength)) {
                        out = faulty(toClient, chosen, exchange.request, head.length, bodyLength, "status " + status);
                    }
                    synchronized (clientWriteLock) {
                        out.write(head, 0, head.length);
                        if (toTheEnd) {
                            in.relayToEnd(out);
                            out.flush();
                            return;
                        }
                        relayBody(in, parsed, out, bodiless ? 0L : null);
                        out.flush();
                    }
                }
            } catch (FaultFired fired) {
                cuts.incrementAndGet();
                if (fired.stall != null) {
                    awaitClose(fired.stall.toNanos());
                }
            } catch (IOException | RuntimeException e) {
                // a side closed; tear down
            } finally {
                closeAll();
            }
        }

        /** Sends a fault's canned answer, then closes gracefully so the client reads it before the close. */
        void answer(Fault fault) throws IOException {
            String contentType = fault.contentType;
            String body = fault.rawBody;
            if (body == null) {
                if (dialect == Dialect.S3) {
                    contentType = "application/xml";
                    body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + fault.code + "</Code><Message>"
                            + fault.message + "</Message><RequestId>fault-" + requests.get() + "</RequestId></Error>";
                } else {
                    contentType = "application/json; charset=UTF-8";
                    body = "{\"error\":{\"code\":" + fault.status + ",\"message\":\"" + fault.message
                            + "\",\"errors\":[{\"domain\":\"global\",\"reason\":\"" + fault.code + "\",\"message\":\""
                            + fault.message + "\"}]}}";
                }
            }
            byte[] content = body.getBytes(StandardCharsets.UTF_8);
            byte[] response = ("HTTP/1.1 " + fault.status + " " + (fault.code == null ? "Refused" : fault.code)
                    + "\r\nContent-Type: " + contentType + "\r\nContent-Length: " + content.length
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
            synchronized (clientWriteLock) {
                OutputStream out = client.getOutputStream();
                out.write(response);
                out.write(content);
                out.flush();
            }
            client.shutdownOutput();
            // Read what the client may still send, so closing does not reset the connection under the answer.
            drain(client, System.nanoTime() + TimeUnit.SECONDS.toNanos(2));
        }

        /** Takes the request and sends nothing until the stall ends (or the client gives up), then closes. */
        void stall(Duration duration) {
            long end = System.nanoTime() + duration.toNanos();
            drain(client, end);
            awaitClose(end - System.nanoTime());
        }

        void closeAll() {
            close(client);
            if (origin != null) {
                close(origin);
            }
            for (Exchange exchange : pending) {
                exchange.sendBody.completeExceptionally(new IOException("connection closed"));
            }
        }
    }

    /** Reads and drops whatever arrives until EOF or {@code deadline}. */
    private static void drain(Socket socket, long deadline) {
        byte[] sink = new byte[8192];
        try {
            InputStream in = socket.getInputStream();
            while (true) {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left <= 0) {
                    return;
                }
                socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, Math.max(1, left)));
                if (in.read(sink) < 0) {
                    return;
                }
            }
        } catch (SocketTimeoutException e) {
            // the deadline passed
        } catch (IOException e) {
            // the other side went away
        }
    }

    private void awaitClose(long nanos) {
        try {
            closed.await(Math.max(0, nanos), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Relays a message body as framed by {@code head}: Content-Length, chunked (with trailers), or, when
     * {@code forcedLength} is given, exactly that many bytes.
     */
    private static void relayBody(MessageReader in, Head head, OutputStream out, Long forcedLength) throws IOException {
        if (forcedLength != null) {
            in.relay(forcedLength, out);
        } else if (head.chunked()) {
            while (true) {
                byte[] sizeLine = in.readLine();
                out.write(sizeLine);
                String size = new String(sizeLine, StandardCharsets.ISO_8859_1).trim();
                int semicolon = size.indexOf(';');
                long n = Long.parseLong(semicolon < 0 ? size : size.substring(0, semicolon).trim(), 16);
                if (n == 0) {
                    while (true) { // trailers, up to the empty line
                        byte[] trailer = in.readLine();
                        out.write(trailer);
                        if (trailer.length <= 2) {
                            return;
                        }
                    }
                }
                in.relay(n, out);
                out.write(in.readLine()); // the CRLF after the chunk
            }
        } else {
            long length = head.contentLength();
            in.relay(Math.max(0, length), out);
        }
    }

    /** An output that passes bytes on until {@code faultAt} bytes, then fires the fault if {@code fire} agrees. */
    private static final class Relay extends OutputStream {
        private final OutputStream out;
        private long faultAt;
        private final Duration stall;
        private final BooleanSupplier fire;
        private long written;

        Relay(OutputStream out, long faultAt, Duration stall, BooleanSupplier fire) {
            this.out = out;
            this.faultAt = faultAt;
            this.stall = stall;
            this.fire = fire;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            if (written + len > faultAt && !fire.getAsBoolean()) {
                faultAt = Long.MAX_VALUE; // the rule was used up meanwhile
            }
            if (written + len > faultAt) {
                int n = (int) (faultAt - written);
                out.write(b, off, n);
                out.flush();
                written += n;
                throw new FaultFired(stall);
            }
            out.write(b, off, len);
            written += len;
        }

        @Override
        public void flush() throws IOException {
            out.flush();
        }
    }

    /** A parsed message head: the start line, the framing headers, and all headers. */
    private record Head(String startLine, long contentLength, boolean chunked, boolean expectsContinue,
                        Map<String, String> headers) {
        static Head parse(byte[] raw) {
            String text = new String(raw, StandardCharsets.ISO_8859_1);
            String[] lines = text.split("\r\n");
            long contentLength = -1;
            boolean chunked = false;
            boolean expect = false;
            Map<String, String> headers = new java.util.HashMap<>();
            for (int i = 1; i < lines.length; i++) {
                int colon = lines[i].indexOf(':');
                if (colon <= 0) {
                    continue;
                }
                String name = lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT);
                String value = lines[i].substring(colon + 1).trim();
                headers.putIfAbsent(name, value);
                switch (name) {
                    case "content-length" -> contentLength = Long.parseLong(value);
                    case "transfer-encoding" -> chunked = value.toLowerCase(Locale.ROOT).contains("chunked");
                    case "expect" -> expect = value.equalsIgnoreCase("100-continue");
                    default -> { }
                }
            }
            return new Head(lines[0], contentLength, chunked, expect, Map.copyOf(headers));
        }
    }

    /** A buffered reader of HTTP messages that hands body bytes on without copying them twice. */
    private static final class MessageReader {
        private final InputStream in;
        private final byte[] buffer = new byte[16 * 1024];
        private int position;
        private int limit;

        MessageReader(InputStream in) {
            this.in = in;
        }

        private boolean fill() throws IOException {
            if (position < limit) {
                return true;
            }
            int n = in.read(buffer);
            if (n < 0) {
                return false;
            }
            position = 0;
            limit = n;
            return true;
        }

        /** The next head up to and including the empty line, or null at a clean end of the stream. */
        byte[] readHead() throws IOException {
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            int matched = 0;
            while (matched < 4) {
                if (!fill()) {
                    if (head.size() == 0) {
                        return null;
                    }
                    throw new IOException("connection closed in a message head");
                }
                byte b = buffer[position++];
                head.write(b);
                matched = (b == '\r' && (matched == 0 || matched == 2)) || (b == '\n' && (matched == 1 || matched == 3))
                        ? matched + 1 : (b == '\r' ? 1 : 0);
                if (head.size() > MAX_HEAD) {
                    throw new IOException("message head longer than " + MAX_HEAD + " bytes");
                }
            }
            return head.toByteArray();
        }

        /** One line, CRLF included. */
        byte[] readLine() throws IOException {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            while (true) {
                if (!fill()) {
                    throw new IOException("connection closed in a chunked body");
                }
                byte b = buffer[position++];
                line.write(b);
                if (b == '\n') {
                    return line.toByteArray();
                }
                if (line.size() > MAX_HEAD) {
                    throw new IOException("line longer than " + MAX_HEAD + " bytes");
                }
            }
        }

        void relay(long length, OutputStream out) throws IOException {
            long left = length;
            while (left > 0) {
                if (!fill()) {
                    throw new IOException("connection closed " + left + " bytes before the end of a body");
                }
                int n = (int) Math.min(left, limit - position);
                out.write(buffer, position, n);
                position += n;
                left -= n;
            }
        }

        void relayToEnd(OutputStream out) throws IOException {
            while (fill()) {
                out.write(buffer, position, limit - position);
                position = limit;
            }
        }
    }

    private void close(Socket socket) {
        sockets.remove(socket);
        try {
            socket.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    @Override
    public void close() throws IOException {
        closed.countDown();
        server.close();
        for (Socket socket : sockets) {
            close(socket);
        }
        pumps.shutdownNow();
    }

    /** For messages: which faults fired, one a line. */
    public String describeInjected() {
        List<String> lines = new ArrayList<>(log);
        return lines.isEmpty() ? "no faults fired" : String.join("\n", lines);
    }
}
