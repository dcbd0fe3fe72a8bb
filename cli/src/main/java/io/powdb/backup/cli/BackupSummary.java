package io.powdb.backup.cli;

import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.Manifest;

/**
 * The JSON object that describes one backup in the output of {@code backup} and {@code list}. Field names
 * are part of the CLI contract that scripts rely on.
 */
record BackupSummary(
        String id,
        String type,
        long sourceLsn,
        Long baseLsn,
        String created,
        long bytesUploaded,
        long objectsUploaded,
        String parent,
        String chain,
        String history,
        String forkedFrom,
        String consistency,
        long files,
        String error) {

    static BackupSummary of(Manifest m) {
        Long baseLsn = m.parent() == null ? null : BackupId.parse(m.parent()).lsn();
        return new BackupSummary(m.id(), m.type(), m.sourceLsn(), baseLsn, m.created(), m.stats().bytesUploaded(),
                m.stats().objectsUploaded(), m.parent(), m.chain(), m.history(), m.forkedFrom(), m.consistency(),
                m.files().size(), null);
    }

    /** A backup whose manifest cannot be read: listed, with what is wrong, rather than hidden. */
    static BackupSummary damaged(BackupId id, String error) {
        return new BackupSummary(id.toString(), null, id.lsn(), null, id.created().toString(), 0, 0, null, null, null,
                null, null, 0, error);
    }
}
