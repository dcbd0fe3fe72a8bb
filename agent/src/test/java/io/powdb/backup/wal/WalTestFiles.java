package io.powdb.backup.wal;

import io.powdb.backup.testing.WalWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/** Byte-level helpers for WAL tests: append, overwrite, and the fixture's independent parse. */
final class WalTestFiles {
    private WalTestFiles() {
    }

    /** The records as the fixture's own parser (written from the notes, independently of main) sees them. */
    static List<io.powdb.backup.testing.WalRecord> fixtureParse(Path wal) throws IOException {
        return io.powdb.backup.testing.WalRecord.readAll(wal);
    }

    static List<WalRecord> readAll(Path wal) throws IOException {
        List<WalRecord> out = new ArrayList<>();
        WalFile.scan(wal, out::add);
        return out;
    }

    static void append(Path file, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND)) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                ch.write(b);
            }
        }
    }

    /** Overwrites bytes in place (same file, same inode). */
    static void overwrite(Path file, long at, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                ch.write(b, at + b.position());
            }
        }
    }

    static void truncate(Path file, long length) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(length);
        }
    }

    static void flipByte(Path file, long at) throws IOException {
        byte[] b = Files.readAllBytes(file);
        overwrite(file, at, new byte[] {(byte) (b[(int) at] ^ 0x40)});
    }

    static void putU32(Path file, long at, long value) throws IOException {
        overwrite(file, at, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) value).array());
    }

    /** The record at {@code r.offset()} re-encoded with another LSN and tx id: same length, valid CRC. */
    static byte[] reencoded(io.powdb.backup.testing.WalRecord r, long lsn, long txId) {
        return WalWriter.encode(txId, r.type(), lsn, r.payload());
    }

    /** A valid record with a payload of {@code payloadLength} pseudo-random bytes. */
    static byte[] record(long txId, int type, long lsn, int payloadLength, long seed) {
        byte[] payload = new byte[payloadLength];
        new java.util.Random(seed).nextBytes(payload);
        return WalWriter.encode(txId, type, lsn, payload);
    }
}
