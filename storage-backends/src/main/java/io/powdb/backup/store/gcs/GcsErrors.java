package io.powdb.backup.store.gcs;

import com.google.cloud.BaseServiceException;
import io.powdb.backup.store.BlobNotFoundException;

import java.io.IOException;

/**
 * Turns the client's exceptions into the store's IOExceptions, naming the operation, bucket and object
 * but never a credential.
 */
final class GcsErrors {
    private GcsErrors() {
    }

    /** The HTTP status of a failure, looking through IOExceptions that wrap the client's exceptions. */
    static int status(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof BaseServiceException service && service.getCode() > 0) {
                return service.getCode();
            }
        }
        return -1;
    }

    static IOException translate(String operation, String bucket, String key, Throwable e) {
        String target = "gs://" + bucket + (key == null ? "" : "/" + key);
        int status = status(e);
        if (status == 404 && key != null) {
            return new BlobNotFoundException("gs://" + bucket, key);
        }
        if (status == 401 || status == 403) {
            return new IOException("access denied to " + target + " (" + operation + ", HTTP " + status
                    + "): check credentials (GOOGLE_APPLICATION_CREDENTIALS, `gcloud auth application-default login`"
                    + " or the attached service account) and the bucket's IAM permissions", e);
        }
        String detail = e.getMessage() == null || e.getMessage().isBlank()
                ? e.getClass().getSimpleName() + (e.getCause() == null ? "" : " (" + e.getCause() + ")")
                : e.getMessage();
        return new IOException(operation + " " + target + " failed" + (status > 0 ? ": HTTP " + status : "")
                + ": " + detail, e);
    }
}
