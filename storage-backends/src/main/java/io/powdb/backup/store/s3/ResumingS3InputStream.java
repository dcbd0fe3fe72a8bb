package io.powdb.backup.store.s3;

import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.Objects;

/**
 * The body of a (ranged) GET that survives broken connections: when reading fails mid-body, it issues a new
 * ranged GET from the byte reached, pinned with {@code If-Match} to the ETag of the first response so that
 * an object replaced meanwhile fails the read instead of splicing two versions together.
 *
 * <p>The SDK retries requests, but not a body that breaks after the headers arrived: that is this class's
 * job. Each resume that delivers at least one byte resets the failure count, so a long download over a
 * flaky link keeps going while a server that never delivers fails after {@code readResumes} attempts.
 */
final class ResumingS3InputStream extends InputStream {
    private static final long MAX_BACKOFF_MILLIS = 2_000;

    private final S3BlobStore store;
    private final String key;
    /** The ETag reads are pinned to: the first response's, or, if that one's headers were cut, the next one's. */
    private String etag;
    /** Absolute offset of the next byte to return. */
    private long position;
    /** The end the caller asked for (exclusive; Long.MAX_VALUE for the whole object). */
    private final long requestedEnd;
    /**
     * Absolute end offset (exclusive) of what this stream returns. It comes from a response's headers, which
     * can be cut short without the HTTP client noticing (a Content-Length of "10" for 100000): it is only
     * trusted once that response has delivered a byte of its body, and until then each new response sets it.
     */
    private long end;
    private boolean endConfirmed;
    private ResponseInputStream<GetObjectResponse> body;
    /** Bytes the current response still owes, from its Content-Length. */
    private long bodyRemaining;
    private int failuresWithoutProgress;
    private boolean closed;

    ResumingS3InputStream(S3BlobStore store, String key, long offset, long requestedEnd,
                          ResponseInputStream<GetObjectResponse> first) {
        this.store = store;
        this.key = key;
        this.position = offset;
        GetObjectResponse response = first.response();
        this.etag = response.eTag();
        this.requestedEnd = requestedEnd;
        this.end = Math.min(requestedEnd, objectSize(response, offset));
        this.body = first;
        this.bodyRemaining = response.contentLength() == null ? end - offset : response.contentLength();
    }

    /** The whole object's size: from Content-Range on a ranged response, else Content-Length. */
    private static long objectSize(GetObjectResponse response, long offset) {
        String range = response.contentRange();
        if (range != null) {
            int slash = range.lastIndexOf('/');
            if (slash >= 0 && !range.endsWith("*")) {
                return Long.parseLong(range.substring(slash + 1).trim());
            }
        }
        return response.contentLength() == null ? Long.MAX_VALUE : offset + response.contentLength();
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        Objects.checkFromIndexSize(off, len, b.length);
        if (closed) {
            throw new IOException("stream of " + store.location() + "/" + key + " is closed");
        }
        if (len == 0) {
            return 0;
        }
        while (true) {
            if (position >= end) {
                if (endConfirmed || end == 0) {
                    return -1; // a size of "0" cannot be a longer one cut short
                }
                // The response that set the end delivered nothing: its headers were cut short, so is the end.
                recoverFrom(new EOFException("a response put the end of the object at byte " + end));
            }
            if (body == null) {
                reopen();
            }
            try {
                int n = body.read(b, off, (int) Math.min(len, Math.min(bodyRemaining, end - position)));
                if (n > 0) {
                    position += n;
                    bodyRemaining -= n;
                    failuresWithoutProgress = 0;
                    endConfirmed = true;
                    return n;
                }
                throw new EOFException("connection closed " + bodyRemaining + " bytes before the end of the response");
            } catch (IOException e) {
                recoverFrom(e);
            }
        }
    }

    /** Drops the broken response and waits a little before the next GET, or gives up. */
    private void recoverFrom(IOException e) throws IOException {
        dropBody();
        failuresWithoutProgress++;
        if (failuresWithoutProgress > store.config().readResumes()) {
            throw new IOException("reading " + store.location() + "/" + key + " broke at byte " + position
                    + " and did not resume after " + store.config().readResumes() + " attempts: " + e.getMessage(), e);
        }
        try {
            Thread.sleep(Math.min(MAX_BACKOFF_MILLIS, 50L << Math.min(failuresWithoutProgress, 10)));
        } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while resuming a read of " + store.location() + "/" + key);
        }
    }

    private void reopen() throws IOException {
        try {
            body = store.get(key, position, endConfirmed ? end : requestedEnd, etag);
        } catch (SdkException e) {
            if (S3Errors.status(e) == 412) {
                throw new IOException(store.location() + "/" + key + " was replaced while being read", e);
            }
            throw S3Errors.translate("GET (resuming at byte " + position + ")", store.config().bucket(), key, e);
        }
        if (!endConfirmed) {
            // Nothing arrived yet from the responses so far: their headers may have been cut short.
            end = Math.min(requestedEnd, objectSize(body.response(), position));
            if (etag == null) {
                etag = body.response().eTag();
            }
        }
        Long length = body.response().contentLength();
        bodyRemaining = length == null ? end - position : length;
    }

    @Override
    public long skip(long n) throws IOException {
        // Skipping far is cheaper as a new ranged GET than as reading and discarding.
        if (n <= 0 || closed) {
            return 0;
        }
        long skipped = Math.min(n, end - position);
        if (skipped > 1 << 20) {
            dropBody();
            position += skipped;
            return skipped;
        }
        return super.skip(n);
    }

    @Override
    public int available() throws IOException {
        return body == null ? 0 : (int) Math.min(body.available(), Math.min(bodyRemaining, end - position));
    }

    private void dropBody() {
        if (body != null) {
            // abort() drops the connection instead of draining what the server would still send.
            body.abort();
            try {
                body.close();
            } catch (IOException | RuntimeException ignored) {
                // the connection is gone either way
            }
            body = null;
        }
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        if (body != null && bodyRemaining == 0) {
            // Fully read: closing returns the connection to the pool.
            body.close();
            body = null;
        } else {
            dropBody();
        }
    }
}
