package io.powdb.backup.retention;

import java.time.Duration;

/**
 * Which backups a prune keeps. The kept set is the union of both rules, always holds the newest backup, and is
 * closed under ancestry (a kept incremental keeps its parent, its parent's parent … and its full backup), so
 * every kept backup still restores.
 *
 * @param keepFull   keep the N newest full backups with every incremental built on them; 0 = no count rule
 * @param keepWithin keep everything needed to restore any point within this long before now: the newest backup
 *                   taken at or before {@code now - keepWithin} with its whole chain, every later backup, and the
 *                   shipped WAL from there on; null or zero = no time rule
 * @param grace      leftovers of interrupted backups (data sessions without a manifest) and orphaned WAL are
 *                   deleted only once older than this, so that a backup or a shipment in progress is never
 *                   touched; null = {@link #DEFAULT_GRACE}
 */
public record RetentionPolicy(int keepFull, Duration keepWithin, Duration grace) {
    public static final Duration DEFAULT_GRACE = Duration.ofHours(24);

    public RetentionPolicy {
        if (keepFull < 0) {
            throw new IllegalArgumentException("keep-full must be 0 (no count rule) or a number of full backups to "
                    + "keep, not " + keepFull);
        }
        keepWithin = keepWithin == null ? Duration.ZERO : keepWithin;
        if (keepWithin.isNegative()) {
            throw new IllegalArgumentException("keep-within must be zero (no time rule) or a positive duration, not "
                    + keepWithin);
        }
        grace = grace == null ? DEFAULT_GRACE : grace;
        if (grace.isNegative()) {
            throw new IllegalArgumentException("the prune grace period cannot be negative: " + grace);
        }
        if (keepFull == 0 && keepWithin.isZero()) {
            throw new IllegalArgumentException("refusing a retention policy that keeps nothing: both keep-full and "
                    + "keep-within are off, so every backup but the newest and all shipped WAL before it would be "
                    + "deleted. Set keep-full to 1 or more (the newest full backups with their incrementals) and/or "
                    + "keep-within to a duration (every point in that time stays restorable).");
        }
    }

    /** A policy with the default grace period. */
    public RetentionPolicy(int keepFull, Duration keepWithin) {
        this(keepFull, keepWithin, DEFAULT_GRACE);
    }

    /** Whether the count rule (keep the N newest full backups and their incrementals) is on. */
    public boolean hasCountRule() {
        return keepFull > 0;
    }

    /** Whether the time rule (keep every point within {@link #keepWithin()} restorable) is on. */
    public boolean hasTimeRule() {
        return !keepWithin.isZero();
    }

    /** The policy in words, for messages. */
    public String describe() {
        StringBuilder text = new StringBuilder();
        if (hasCountRule()) {
            text.append("keep the ").append(keepFull).append(keepFull == 1 ? " newest full backup with its incrementals"
                    : " newest full backups with their incrementals");
        }
        if (hasTimeRule()) {
            text.append(text.length() > 0 ? ", and " : "").append("keep every point of the last ").append(keepWithin)
                    .append(" restorable");
        }
        return text.append(" (grace ").append(grace).append(")").toString();
    }
}
