package io.powdb.backup.repo;

import java.time.Instant;

/** Which backup to restore: the latest, one by id, or the newest of the newest history at or before an LSN or a time. */
public sealed interface RestorePoint {
    record Latest() implements RestorePoint {
        @Override
        public String toString() {
            return "the latest backup";
        }
    }

    record ById(BackupId id) implements RestorePoint {
        @Override
        public String toString() {
            return "backup " + id;
        }
    }

    record AtOrBeforeLsn(long lsn) implements RestorePoint {
        @Override
        public String toString() {
            return "LSN " + Long.toUnsignedString(lsn);
        }
    }

    record AtOrBeforeTime(Instant time) implements RestorePoint {
        @Override
        public String toString() {
            return "time " + time;
        }
    }
}
