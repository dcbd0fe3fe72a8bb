package io.powdb.backup.cli;

import java.time.Duration;

/** Command-line durations: {@link io.powdb.backup.service.Durations}, with the option named in errors. */
final class Durations {
    private Durations() {
    }

    static Duration parse(String text, String option) {
        try {
            return io.powdb.backup.service.Durations.parse(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(option + ": " + e.getMessage());
        }
    }
}
