package io.powdb.backup.store.s3;

import software.amazon.awssdk.core.exception.RetryableException;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.core.interceptor.SdkExecutionAttribute;
import software.amazon.awssdk.http.SdkHttpResponse;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Turns responses that broke on the way into retryable errors, so that the SDK retries them like any other
 * network failure instead of handing half a response to the store.
 *
 * <p>Two ways a dropped connection otherwise slips through:
 * <ul>
 *   <li>The HTTP client (Apache HttpClient 5) takes a connection that closes inside a response head for the
 *       end of the head, and returns the headers that arrived. A listing then reads as empty, a HEAD has no
 *       size, an ETag is cut short. Every successful S3 response is framed by {@code Content-Length} or
 *       chunked {@code Transfer-Encoding} (HEAD by {@code Content-Length}), and its ETag, when quoted, ends
 *       with a quote; a response without them was cut.</li>
 *   <li>A body that breaks inside an XML response reaches the SDK's parser, whose error the SDK does not
 *       retry. Non-streaming bodies (listings, multipart replies, errors: small) are therefore read whole
 *       here first; object downloads stream and resume on their own ({@link ResumingS3InputStream}).</li>
 * </ul>
 */
final class BrokenResponseCheck implements ExecutionInterceptor {
    /** Operations whose ETag the store relies on: pinning resumed reads, completing multipart uploads. */
    private static final Set<String> NEEDS_ETAG = Set.of("UploadPart");
    private static final Set<String> QUOTED_ETAG_CHECKED = Set.of("GetObject", "HeadObject", "UploadPart");

    @Override
    public void afterTransmission(Context.AfterTransmission context, ExecutionAttributes attributes) {
        SdkHttpResponse response = context.httpResponse();
        int status = response.statusCode();
        if (status < 200 || status >= 300 || status == 204) {
            return; // errors keep their own handling; a 204 has no body to frame
        }
        String operation = attributes.getAttribute(SdkExecutionAttribute.OPERATION_NAME);
        boolean length = response.firstMatchingHeader("Content-Length").isPresent();
        boolean chunked = response.firstMatchingHeader("Transfer-Encoding")
                .map(v -> v.toLowerCase(Locale.ROOT).contains("chunked")).orElse(false);
        if ("HeadObject".equals(operation) ? !length : !length && !chunked) {
            throw broken(operation, "has no " + ("HeadObject".equals(operation) ? "Content-Length" : "length or chunking"));
        }
        if (QUOTED_ETAG_CHECKED.contains(operation)) {
            Optional<String> etag = response.firstMatchingHeader("ETag");
            if (etag.isEmpty() && NEEDS_ETAG.contains(operation)) {
                throw broken(operation, "has no ETag");
            }
            if (etag.isPresent() && etag.get().startsWith("\"") && (etag.get().length() < 2 || !etag.get().endsWith("\""))) {
                throw broken(operation, "has an ETag cut short");
            }
        }
    }

    @Override
    public Optional<InputStream> modifyHttpResponseContent(Context.ModifyHttpResponse context, ExecutionAttributes attributes) {
        Optional<InputStream> body = context.responseBody();
        String operation = attributes.getAttribute(SdkExecutionAttribute.OPERATION_NAME);
        if (body.isEmpty() || "GetObject".equals(operation)) {
            return body;
        }
        try (InputStream in = body.get()) {
            return Optional.of(new ByteArrayInputStream(in.readAllBytes()));
        } catch (IOException | UncheckedIOException e) {
            throw RetryableException.create("the response to " + operation + " broke off: " + e.getMessage(), e);
        }
    }

    private static RetryableException broken(String operation, String what) {
        return RetryableException.create("the response to " + operation + " " + what
                + ": the connection broke inside its headers");
    }
}
