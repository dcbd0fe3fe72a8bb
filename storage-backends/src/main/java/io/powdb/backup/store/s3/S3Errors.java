package io.powdb.backup.store.s3;

import io.powdb.backup.store.BlobNotFoundException;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.model.S3Exception;

import java.io.IOException;

/**
 * Turns SDK exceptions into the store's IOExceptions. Messages name the operation, bucket and key and the
 * service's error code; they never include a credential (the SDK's messages do not either).
 */
final class S3Errors {
    private S3Errors() {
    }

    static int status(Throwable e) {
        return e instanceof S3Exception s3 ? s3.statusCode() : -1;
    }

    static String errorCode(Throwable e) {
        if (e instanceof S3Exception s3 && s3.awsErrorDetails() != null) {
            return s3.awsErrorDetails().errorCode();
        }
        return null;
    }

    /**
     * The IOException for a failed request on {@code s3://bucket/key} ({@code key} may be null for
     * bucket-level requests). A 404 on an object becomes {@link BlobNotFoundException}.
     */
    static IOException translate(String operation, String bucket, String key, SdkException e) {
        String target = "s3://" + bucket + (key == null ? "" : "/" + key);
        String code = errorCode(e);
        int status = status(e);
        if (status == 404 && "NoSuchBucket".equals(code)) {
            return new IOException(operation + " " + target + " failed: bucket " + bucket + " does not exist", e);
        }
        if (status == 404 && "NoSuchUpload".equals(code)) {
            return new IOException(operation + " " + target + " failed: the multipart upload no longer exists"
                    + " (aborted, or removed by a lifecycle rule for incomplete uploads)", e);
        }
        if (status == 404 && key != null) {
            return new BlobNotFoundException("s3://" + bucket, key);
        }
        if (status == 403 || "InvalidAccessKeyId".equals(code) || "SignatureDoesNotMatch".equals(code)) {
            return new IOException("access denied to " + target + " (" + operation + ", " + (code == null ? "403" : code)
                    + "): check credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the instance,"
                    + " container or web-identity role), the region, and the bucket policy", e);
        }
        if (e instanceof S3Exception s3) {
            AwsErrorDetails details = s3.awsErrorDetails();
            String message = details != null && details.errorMessage() != null ? details.errorMessage() : "no detail";
            return new IOException(operation + " " + target + " failed: HTTP " + status
                    + (code == null ? "" : " " + code) + ": " + message
                    + (s3.requestId() == null ? "" : " (request id " + s3.requestId() + ")"), e);
        }
        return new IOException(operation + " " + target + " failed: " + e.getMessage(), e);
    }
}
