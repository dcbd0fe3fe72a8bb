package io.powdb.backup.verify;

import java.util.List;

/**
 * What {@code verify} checked and what it found wrong.
 *
 * @param failures one line per damaged backup or object; empty when all is well
 */
public record VerifyReport(List<String> backupsChecked, long objectsChecked, long bytesChecked, List<String> failures) {
    public boolean ok() {
        return failures.isEmpty();
    }
}
