package io.powdb.backup.wal;

import java.io.IOException;
import java.nio.file.Path;
import java.util.OptionalLong;

/** One-shot reads of a whole wal.log: a summary, optionally visiting each record. Streams; never loads the file. */
public final class WalFile {
    private WalFile() {
    }

    public static WalSummary summarize(Path wal) throws IOException {
        return scan(wal, record -> { });
    }

    /** Visits every record of the valid prefix in file order, and sums up what was found. */
    public static WalSummary scan(Path wal, WalRecordVisitor visitor) throws IOException {
        return scan(wal, WalReader.DEFAULT_BUFFER_SIZE, visitor);
    }

    static WalSummary scan(Path wal, int bufferSize, WalRecordVisitor visitor) throws IOException {
        try (WalReader reader = WalReader.open(wal, bufferSize)) {
            long count = 0;
            OptionalLong first = OptionalLong.empty();
            OptionalLong last = OptionalLong.empty();
            OptionalLong lastCommit = OptionalLong.empty();
            long stableLength = reader.fileHeader().length();
            for (WalRecord r = reader.next(); r != null; r = reader.next()) {
                visitor.visit(r);
                count++;
                if (first.isEmpty()) {
                    first = OptionalLong.of(r.lsn());
                }
                last = OptionalLong.of(r.lsn());
                if (r.isCommit()) {
                    lastCommit = OptionalLong.of(r.lsn());
                    stableLength = r.end();
                }
            }
            return new WalSummary(reader.fileHeader(), reader.limit(), reader.validPrefixLength(), reader.stop(),
                    count, first, last, lastCommit, stableLength);
        }
    }
}
