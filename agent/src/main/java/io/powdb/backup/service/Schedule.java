package io.powdb.backup.service;

import java.time.Duration;
import java.time.Instant;

/**
 * When a job runs: every {@code interval} after its last run, or at the times of a cron expression (UTC).
 * Written as {@code 1h}, {@code 30m}, {@code 24h}, {@code PT1H}, or {@code 0 3 * * *}, {@code @daily}.
 */
public sealed interface Schedule {
    /** When the job is next due, given when it last ran (null: never, then an interval is due at once). */
    Instant next(Instant now, Instant lastRun);

    record Every(Duration interval) implements Schedule {
        @Override
        public Instant next(Instant now, Instant lastRun) {
            return lastRun == null ? now : lastRun.plus(interval);
        }

        @Override
        public String toString() {
            return "every " + Durations.format(interval);
        }
    }

    record Cron(CronExpression expression) implements Schedule {
        @Override
        public Instant next(Instant now, Instant lastRun) {
            // A run missed while the agent was down is caught up once, at start.
            if (lastRun != null) {
                Instant due = expression.next(lastRun);
                return due.isBefore(now) ? now : due;
            }
            return expression.next(now);
        }

        @Override
        public String toString() {
            return "cron '" + expression + "' (UTC)";
        }
    }

    static Schedule parse(String text, String setting) {
        try {
            if (CronExpression.looksLikeCron(text)) {
                return new Cron(CronExpression.parse(text));
            }
            return new Every(Durations.parse(text));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(setting + ": " + e.getMessage());
        }
    }
}
