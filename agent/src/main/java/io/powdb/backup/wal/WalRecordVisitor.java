package io.powdb.backup.wal;

import java.io.IOException;

/** Receives WAL records one at a time, in file order. */
@FunctionalInterface
public interface WalRecordVisitor {
    void visit(WalRecord record) throws IOException;
}
