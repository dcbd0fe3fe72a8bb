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
        String error,
        /** Encrypted repositories: the master key ids that open this backup's data key (absent otherwise). */
        @com.fasterxml.jackson.annotation.JsonInclude(com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
        java.util.List<String> masterKeyIds) {

    static BackupSummary of(Manifest m) {
        Long baseLsn = m.parent() == null ? null : BackupId.parse(m.parent()).lsn();
        return new BackupSummary(m.id(), m.type(), m.sourceLsn(), baseLsn, m.created(), m.stats().bytesUploaded(),
                m.stats().objectsUploaded(), m.parent(), m.chain(), m.history(), m.forkedFrom(), m.consistency(),
                m.files().size(), null, null);
    }

    /** The same summary, saying which master keys open the backup. */
    BackupSummary withMasterKeyIds(java.util.List<String> ids) {
        return new BackupSummary(id, type, sourceLsn, baseLsn, created, bytesUploaded, objectsUploaded, parent, chain,
                history, forkedFrom, consistency, files, error, ids);
    }

    /** A backup whose manifest cannot be read: listed, with what is wrong, rather than hidden. */
    static BackupSummary damaged(BackupId id, String error) {
        return new BackupSummary(id.toString(), null, id.lsn(), null, id.created().toString(), 0, 0, null, null, null,
                null, null, 0, error, null);
    }
}
