package io.powdb.backup.repo;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;

import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A backup: the complete list of the database's files as of {@code source_lsn} and the objects that hold
 * them. Written last, after every object it names, so a manifest that exists describes a complete backup.
 *
 * <p>{@code parent} is the backup an incremental was compared with; {@code chain} is the full backup at the
 * root of its chain. {@code history} groups backups of one line of the database's life: a database
 * restored to an earlier point and written again starts a new history ({@code forked_from} names the
 * backup it diverged from), so two histories can hold the same LSNs.
 *
 * <p>{@code consistency} says how the copy was taken; {@code max_page_lsn} is the largest heap page LSN and
 * {@code wal_end_lsn} the last committed WAL record the backup holds (null when its WAL is empty):
 * {@code source_lsn} is the larger of the two, the point PowDB's recovery reaches. {@code wal_anchor} (a
 * crash-consistent backup's place in the server's WAL) lets shipped WAL continue it.
 */
@JsonInclude(JsonInclude.Include.ALWAYS)
public record Manifest(
        String format,
        int formatVersion,
        String id,
        String type,
        String parent,
        String chain,
        String history,
        String forkedFrom,
        String consistency,
        long sourceLsn,
        long maxPageLsn,
        Long walEndLsn,
        WalAnchor walAnchor,
        String created,
        String toolVersion,
        int pageSize,
        List<FileEntry> files,
        List<String> removed,
        BackupStats stats) {

    public static final String FORMAT = "powdb-backup/manifest";
    /**
     * 2 (not yet released, so still growing): heaps may carry {@code page_map_deltas}, and object references
     * {@code compression} and {@code content_size}. Format 1 manifests (neither) are read as they are.
     */
    public static final int FORMAT_VERSION = 2;
    public static final String FULL = "full";
    public static final String INCREMENTAL = "incremental";
    public static final String QUIESCENT = "quiescent";
    /** Copied from a running server: PowDB's WAL replay on open brings it to {@code wal_end_lsn}. */
    public static final String CRASH_CONSISTENT = "crash-consistent";

    @JsonIgnore
    public BackupId backupId() {
        return BackupId.parse(id);
    }

    @JsonIgnore
    public Instant createdAt() {
        return Instant.parse(created);
    }

    @JsonIgnore
    public boolean isFull() {
        return FULL.equals(type);
    }

    /** Checks the fields a restore relies on; a manifest failing this is refused, never half-used. */
    public void validate() throws IntegrityException {
        if (!FORMAT.equals(format) || formatVersion < 1 || formatVersion > FORMAT_VERSION || !BackupId.isValid(id)
                || !(FULL.equals(type) || INCREMENTAL.equals(type)) || !BackupId.isValid(chain)
                || history == null || !history.matches("[0-9a-f]{8,32}") || files == null || removed == null
                || created == null || pageSize != io.powdb.backup.format.HeapPage.SIZE
                || !(QUIESCENT.equals(consistency) || CRASH_CONSISTENT.equals(consistency))) {
            throw new IntegrityException("manifest of backup " + id + " is malformed");
        }
        if (backupId().lsn() != sourceLsn) {
            throw new IntegrityException("manifest of backup " + id + " has source_lsn " + Long.toUnsignedString(sourceLsn)
                    + " which does not match its id");
        }
        if (isFull() ? (parent != null || !chain.equals(id)) : (!BackupId.isValid(parent) || chain.equals(id))) {
            throw new IntegrityException("manifest of backup " + id + " has an inconsistent parent/chain for a " + type
                    + " backup");
        }
        if (forkedFrom != null && !BackupId.isValid(forkedFrom)) {
            throw new IntegrityException("manifest of backup " + id + " has a malformed forked_from");
        }
        try {
            createdAt();
        } catch (RuntimeException e) {
            throw new IntegrityException("manifest of backup " + id + " has a malformed time " + created);
        }
        Set<String> names = new HashSet<>();
        for (FileEntry file : files) {
            file.validate(id);
            if (!names.add(file.name())) {
                throw new IntegrityException("manifest of backup " + id + " lists " + file.name() + " twice");
            }
        }
        if (walAnchor != null) {
            FileEntry wal = files.stream().filter(f -> f.name().equals(io.powdb.backup.format.PowDbFiles.WAL))
                    .findFirst().orElseThrow(() -> new IntegrityException("manifest of backup " + id
                            + " has a wal_anchor but no wal.log"));
            walAnchor.validate(id, wal.size());
        }
    }
}
