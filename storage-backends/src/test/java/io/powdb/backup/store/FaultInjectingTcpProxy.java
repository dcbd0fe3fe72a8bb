package io.powdb.backup.store;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP relay on 127.0.0.1 that breaks the first connection whose server-to-client traffic exceeds a byte
 * count, the way a flaky network drops a long download; later connections pass untouched. It can also
 * answer the next few connections itself with a canned HTTP response (a server error) before relaying.
 */
public final class FaultInjectingTcpProxy implements AutoCloseable {
    private final ServerSocket server;
    private final InetSocketAddress upstream;
    private final long cutAfterBytes;
    private final ExecutorService pumps = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "fault-injecting-proxy");
        t.setDaemon(true);
        return t;
    });
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicInteger cuts = new AtomicInteger();
    private final AtomicInteger connectionsToRefuse = new AtomicInteger();
    private volatile byte[] refusal;

    public FaultInjectingTcpProxy(URI upstream, long cutAfterBytes) throws IOException {
        this.upstream = new InetSocketAddress(upstream.getHost(), upstream.getPort());
        this.cutAfterBytes = cutAfterBytes;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        pumps.submit(this::acceptLoop);
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + server.getLocalPort());
    }

    public int connections() {
        return connections.get();
    }

    public int cuts() {
        return cuts.get();
    }

    /**
     * The next {@code count} connections get {@code status} with a body of {@code body} for their first
     * request, then are closed, without reaching the upstream server.
     */
    public void refuseNext(int count, int status, String contentType, String body) {
        byte[] content = body.getBytes(StandardCharsets.UTF_8);
        refusal = ("HTTP/1.1 " + status + " Refused\r\nContent-Type: " + contentType + "\r\nContent-Length: "
                + content.length + "\r\nConnection: close\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8);
        connectionsToRefuse.set(count);
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                if (connectionsToRefuse.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                    pumps.submit(() -> refuse(client));
                    continue;
                }
                Socket origin = new Socket(upstream.getAddress(), upstream.getPort());
                connections.incrementAndGet();
                pumps.submit(() -> pump(client, origin, Long.MAX_VALUE));
                pumps.submit(() -> pump(origin, client, cutAfterBytes));
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    /** Copies {@code from} to {@code to}; the first downstream pump to pass {@code limit} bytes cuts both sockets. */
    private void pump(Socket from, Socket to, long limit) {
        byte[] buffer = new byte[8192];
        long copied = 0;
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            int n;
            while ((n = in.read(buffer)) >= 0) {
                if (limit != Long.MAX_VALUE && copied + n > limit && cuts.compareAndSet(0, 1)) {
                    out.write(buffer, 0, (int) (limit - copied));
                    out.flush();
                    break;
                }
                out.write(buffer, 0, n);
                out.flush();
                copied += n;
            }
        } catch (IOException ignored) {
            // the other direction closed the sockets
        } finally {
            closeQuietly(from);
            closeQuietly(to);
        }
    }

    /** Reads the request head, answers with the canned response and closes. */
    private void refuse(Socket client) {
        try (client) {
            InputStream in = client.getInputStream();
            int matched = 0;
            byte[] end = {'\r', '\n', '\r', '\n'};
            int b;
            while (matched < end.length && (b = in.read()) >= 0) {
                matched = b == end[matched] ? matched + 1 : (b == '\r' ? 1 : 0);
            }
            OutputStream out = client.getOutputStream();
            out.write(refusal);
            out.flush();
        } catch (IOException ignored) {
            // the client went away first
        }
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        pumps.shutdownNow();
    }
}
