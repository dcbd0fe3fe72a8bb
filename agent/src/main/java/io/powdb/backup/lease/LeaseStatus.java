package io.powdb.backup.lease;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;

/**
 * The repository lease as one look at the store found it: the highest-epoch lease object, read.
 *
 * @param repository where the repository is, for messages
 * @param key        the store key of the lease object, or null when there is none
 * @param epoch      its epoch, 0 when there is no lease object at all
 * @param holder     the agent that holds it; "unknown" when the object cannot be read
 * @param acquiredAt when its holder took it (null when unreadable)
 * @param renewedAt  when it was last renewed (for an unreadable object: when the store says it was written,
 *                   or null when the store does not say)
 * @param expiresAt  when it expires by its holder's clock (null: unreadable and of unknown age)
 * @param margin     how long after {@code expiresAt} another agent still keeps off, for clock skew
 * @param checkedAt  the local time of this look, against which {@link #expired()} and {@link #live()} are judged
 * @param problem    why the object cannot be read, or null when it was read
 */
public record LeaseStatus(String repository, String key, long epoch, String holder, Instant acquiredAt,
                          Instant renewedAt, Instant expiresAt, Duration margin, Instant checkedAt, String problem) {
    static final String UNKNOWN_HOLDER = "unknown";
    private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss'Z'").withZone(ZoneOffset.UTC);

    static LeaseStatus none(String repository, Instant checkedAt) {
        return new LeaseStatus(repository, null, 0, null, null, null, null, Duration.ZERO, checkedAt, null);
    }

    /** Whether there is a lease object at all (live or not). */
    public boolean exists() {
        return epoch > 0;
    }

    public boolean readable() {
        return problem == null;
    }

    /** Past its expiry by the local clock (its holder must already have stopped writing). */
    public boolean expired() {
        return exists() && expiresAt != null && !checkedAt.isBefore(expiresAt);
    }

    /**
     * Whether another agent must keep off: a lease counts until {@code expiresAt + margin}, because the
     * holder judged "expires_at" by its own clock and ours may run ahead. An unreadable lease of unknown age
     * counts for ever, as nothing shows that its holder is gone.
     */
    public boolean live() {
        return exists() && (expiresAt == null || checkedAt.isBefore(takeoverFrom()));
    }

    /** When another agent may take the lease over, or null when never (unreadable, of unknown age). */
    public Instant takeoverFrom() {
        return expiresAt == null ? null : expiresAt.plus(margin);
    }

    /** Why a writer must not go on: who holds the lease and until when. */
    public String lockedMessage() {
        if (!exists()) {
            return "another agent took the lease on the repository " + repository + " at the same moment (and has"
                    + " released it since): try again";
        }
        if (!readable()) {
            return "the repository " + repository + " is locked by an unknown agent: its lease object " + key
                    + " cannot be read (" + problem + "), so it counts as held " + unreadableUntil()
                    + ". If no other agent is running, delete that object.";
        }
        String expiry = expired()
                ? "expired " + time(renewedAt, expiresAt) + ", may be taken over from " + time(renewedAt, takeoverFrom())
                + " to allow for clock skew"
                : "expires " + time(renewedAt, expiresAt);
        return "the repository " + repository + " is locked by agent " + holder + " (lease renewed " + time(renewedAt)
                + ", " + expiry + "): another agent is writing to it. Stop it, or wait for the lease to expire.";
    }

    /** One line for a status command. */
    public String describe() {
        if (!exists()) {
            return "no agent holds the lease on " + repository;
        }
        if (!readable()) {
            return "the lease object " + key + " of " + repository + " cannot be read (" + problem
                    + "); it counts as held by an unknown agent " + unreadableUntil();
        }
        String since = "agent " + holder + " (since " + time(acquiredAt) + ", epoch " + epoch + ", renewed "
                + time(renewedAt);
        if (!expired()) {
            return "the lease on " + repository + " is held by " + since + ", expires " + time(expiresAt) + ")";
        }
        if (live()) {
            return "the lease on " + repository + " held by " + since + ") expired " + time(expiresAt)
                    + "; another agent may take it over from " + time(takeoverFrom());
        }
        return "the lease on " + repository + " held by " + since + ") expired " + time(expiresAt)
                + ": no agent holds it";
    }

    private String unreadableUntil() {
        if (expiresAt == null) {
            return "until someone deletes it (the store does not say when it was written)";
        }
        return "until " + time(takeoverFrom()) + " (it was last written " + time(renewedAt)
                + "; that plus the lease time and a margin for clock skew)";
    }

    /** An instant for people: UTC, whole seconds. */
    static String time(Instant instant) {
        return instant == null ? "?" : instant.truncatedTo(ChronoUnit.SECONDS).toString();
    }

    /** {@code instant} as a time of day when it falls on the same UTC day as {@code reference}. */
    static String time(Instant reference, Instant instant) {
        if (reference != null && instant != null && reference.truncatedTo(ChronoUnit.DAYS)
                .equals(instant.truncatedTo(ChronoUnit.DAYS))) {
            return CLOCK.format(instant);
        }
        return time(instant);
    }
}
