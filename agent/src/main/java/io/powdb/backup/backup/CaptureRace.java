package io.powdb.backup.backup;

import io.powdb.backup.format.SourceException;

/** The running database changed in a way this capture cannot account for; capturing again may succeed. */
final class CaptureRace extends SourceException {
    CaptureRace(String message) {
        super(message);
    }
}
