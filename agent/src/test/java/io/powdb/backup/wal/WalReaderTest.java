package io.powdb.backup.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.powdb.backup.testing.PowDbFixture;
import io.powdb.backup.testing.PowDbFixture.Version;
import io.powdb.backup.testing.WalWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class WalReaderTest {
    @TempDir
    Path tmp;

    /** A WAL with DDL, inserts, updates, commits and a heap truncate, as the fixture writes it. */
    private PowDbFixture busyFixture(Version v, long seed) throws IOException {
        PowDbFixture f = PowDbFixture.create(tmp.resolve("db"), v, seed);
        f.createTable("t", 5);
        f.createTable("u", 3);
        f.updateRandomPages("t", 3);
        f.appendPages("u", 2);
        f.truncateTable("u", 3);
        return f;
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void parsesTheFixturesWalRecordForRecord(Version v) throws IOException {
        PowDbFixture f = busyFixture(v, 11);
        Path wal = f.walPath();
        List<io.powdb.backup.testing.WalRecord> expected = WalTestFiles.fixtureParse(wal);
        List<WalRecord> records = WalTestFiles.readAll(wal);
        WalSummary s = WalFile.summarize(wal);

        assertEquals(v == Version.V0_5, s.header().present());
        assertEquals(v == Version.V0_5 ? WalFileHeader.Kind.PRESENT : WalFileHeader.Kind.ABSENT, s.header().kind());
        assertEquals(expected.size(), records.size());
        assertEquals(expected.size(), s.recordCount());
        for (int i = 0; i < records.size(); i++) {
            WalRecord r = records.get(i);
            io.powdb.backup.testing.WalRecord e = expected.get(i);
            assertEquals(e.offset(), r.offset(), "offset of record " + i);
            assertEquals(e.lsn(), r.lsn());
            assertEquals(i + 1, r.lsn(), "LSNs count records from 1");
            assertEquals(e.txId(), r.txId());
            assertEquals(e.type(), r.type());
            assertEquals(e.payload().length, r.payloadLength());
        }
        Set<Integer> types = records.stream().map(WalRecord::type).collect(Collectors.toSet());
        assertTrue(types.containsAll(Set.of(WalFormat.INSERT, WalFormat.UPDATE, WalFormat.COMMIT, 6, 8, 9)), "" + types);

        long size = Files.size(wal);
        assertEquals(size, s.fileLength());
        assertEquals(size, s.validPrefixLength());
        assertTrue(s.endsClean());
        assertEquals(1, s.firstLsn().getAsLong());
        assertEquals(f.lastLsn(), s.lastLsn().getAsLong());
        assertEquals(f.lastLsn(), s.lastCommitLsn().getAsLong(), "every fixture transaction ends on a commit");
        assertEquals(size, s.stableLength());
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void everyRecordsCrcIsTheCrc32OfTxTypeLsnAndPayload(Version v) throws IOException {
        PowDbFixture f = busyFixture(v, 12);
        byte[] file = Files.readAllBytes(f.walPath());
        for (WalRecord r : WalTestFiles.readAll(f.walPath())) {
            byte[] bytes = WalCopier.readRecord(f.walPath(), r);
            assertArrayEquals(Arrays.copyOfRange(file, (int) r.offset(), (int) r.end()), bytes);
            ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(bytes.length, b.getInt(0));
            CRC32 crc = new CRC32();
            crc.update(bytes, 8, bytes.length - 8);
            assertEquals((int) crc.getValue(), b.getInt(4));
            assertEquals(r.crc(), b.getInt(4));
        }
    }

    @Test
    void aTinyBufferReadsTheSameRecordsIncludingOnesLargerThanIt() throws IOException {
        Path wal = tmp.resolve("wal.log");
        Files.write(wal, WalWriter.fileHeader());
        long lsn = 1;
        for (int payload : new int[] {0, 1, 24, 25, 26, 100, 200_000, 3, 70_000, 0}) {
            WalTestFiles.append(wal, WalTestFiles.record(7, WalFormat.UPDATE, lsn++, payload, lsn));
        }
        WalTestFiles.append(wal, WalTestFiles.record(7, WalFormat.COMMIT, lsn, 0, 0));
        List<WalRecord> big = WalTestFiles.readAll(wal);
        for (int buffer : new int[] {25, 26, 64, 4096}) {
            List<WalRecord> small = new java.util.ArrayList<>();
            WalSummary s = WalFile.scan(wal, buffer, small::add);
            assertEquals(big, small, "buffer " + buffer);
            assertEquals(11, s.recordCount());
            assertTrue(s.endsClean());
        }
        assertEquals(200_000, big.get(6).payloadLength());
        assertThrows(IllegalArgumentException.class, () -> WalReader.open(wal, 24));
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void aTornTailEndsTheValidPrefix(Version v) throws IOException {
        PowDbFixture f = busyFixture(v, 13);
        long size = Files.size(f.walPath());
        long records = WalTestFiles.readAll(f.walPath()).size();
        f.appendTornWalTail();
        WalSummary s = WalFile.summarize(f.walPath());
        assertEquals(records, s.recordCount());
        assertEquals(size, s.validPrefixLength());
        assertEquals(WalStop.INCOMPLETE, s.stop());
        assertTrue(s.trailingBytes() > 0);
        assertEquals(size, s.stableLength());
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void anUncommittedTailIsNotStable(Version v) throws IOException {
        PowDbFixture f = busyFixture(v, 14);
        long committed = f.lastLsn();
        long before = f.appendUncommittedUpdates("t", v.firstDataPage(), v.firstDataPage() + 2);
        WalSummary s = WalFile.summarize(f.walPath());
        assertTrue(s.endsClean());
        assertEquals(f.lastLsn(), s.lastLsn().getAsLong());
        assertTrue(s.lastLsn().getAsLong() > committed);
        assertEquals(committed, s.lastCommitLsn().getAsLong());
        assertEquals(before, s.stableLength(), "the stable prefix ends on the last commit");
        assertEquals(Files.size(f.walPath()), s.validPrefixLength());
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void aFlippedByteMidFileStopsThePrefixThere(Version v) throws IOException {
        PowDbFixture f = busyFixture(v, 15);
        List<WalRecord> all = WalTestFiles.readAll(f.walPath());
        int k = all.size() / 2;
        WalRecord victim = all.get(k);
        // A payload byte, then (after repairing it) a byte of the LSN: both are under the CRC.
        for (long at : new long[] {victim.offset() + 25 + victim.payloadLength() / 2, victim.offset() + 17}) {
            byte[] original = Files.readAllBytes(f.walPath());
            WalTestFiles.flipByte(f.walPath(), at);
            WalSummary s = WalFile.summarize(f.walPath());
            assertEquals(k, s.recordCount());
            assertEquals(victim.offset(), s.validPrefixLength());
            assertEquals(WalStop.BAD_CRC, s.stop());
            assertEquals(all.get(k - 1).lsn(), s.lastLsn().getAsLong());
            Files.write(f.walPath(), original);
        }
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void impossibleLengthsEndThePrefix(Version v) throws IOException {
        PowDbFixture f = busyFixture(v, 16);
        Path wal = f.walPath();
        byte[] original = Files.readAllBytes(wal);
        List<WalRecord> all = WalTestFiles.readAll(wal);
        int k = 3;
        WalRecord victim = all.get(k);
        long[][] cases = {
            {0, 0}, {24, 0}, {0xFFFF_FFFFL, 0}, {0x8000_0000L, 0}, {WalFormat.MAX_RECORD_LENGTH + 1L, 0},
        };
        for (long[] c : cases) {
            WalTestFiles.putU32(wal, victim.offset(), c[0]);
            WalSummary s = WalFile.summarize(wal);
            assertEquals(k, s.recordCount(), "length " + c[0]);
            assertEquals(WalStop.BAD_LENGTH, s.stop(), "length " + c[0]);
            assertEquals(victim.offset(), s.validPrefixLength());
            Files.write(wal, original);
        }
        // The last record claiming one byte more than the file holds: a torn tail.
        WalRecord last = all.get(all.size() - 1);
        WalTestFiles.putU32(wal, last.offset(), last.length() + 1L);
        WalSummary s = WalFile.summarize(wal);
        assertEquals(all.size() - 1, s.recordCount());
        assertEquals(WalStop.INCOMPLETE, s.stop());
        // A length that is possible but wrong (the record shortened by one): its CRC no longer matches.
        Files.write(wal, original);
        WalTestFiles.putU32(wal, victim.offset(), victim.length() - 1L);
        assertEquals(WalStop.BAD_CRC, WalFile.summarize(wal).stop());
    }

    @Test
    void emptyHeaderOnlyAndTooShortFiles() throws IOException {
        Path wal = tmp.resolve("wal.log");
        Files.write(wal, new byte[0]);
        WalSummary empty = WalFile.summarize(wal);
        assertEquals(WalFileHeader.Kind.UNDETERMINED, empty.header().kind());
        assertEquals(0, empty.recordCount());
        assertEquals(WalStop.END, empty.stop());
        assertEquals(0, empty.validPrefixLength());
        assertEquals(0, empty.stableLength());
        assertTrue(empty.lastLsn().isEmpty());
        assertTrue(empty.lastCommitLsn().isEmpty());

        Files.write(wal, WalWriter.fileHeader());
        WalSummary header = WalFile.summarize(wal);
        assertEquals(new WalFileHeader(WalFileHeader.Kind.PRESENT, 1, 0), header.header());
        assertEquals(0, header.recordCount());
        assertEquals(WalStop.END, header.stop());
        assertEquals(8, header.validPrefixLength());
        assertEquals(8, header.stableLength());

        Files.write(wal, "PWAL".getBytes(StandardCharsets.US_ASCII)); // a header caught mid-write
        WalSummary torn = WalFile.summarize(wal);
        assertEquals(WalFileHeader.Kind.UNDETERMINED, torn.header().kind());
        assertEquals(WalStop.INCOMPLETE, torn.stop());
        assertEquals(0, torn.validPrefixLength());

        Files.write(wal, new byte[] {40, 0, 0}); // 3 bytes of a 0.4 record's length
        WalSummary partial = WalFile.summarize(wal);
        assertEquals(WalFileHeader.Kind.ABSENT, partial.header().kind());
        assertEquals(WalStop.INCOMPLETE, partial.stop());

        byte[] headerAndPart = Arrays.copyOf(WalWriter.fileHeader(), 8 + 24);
        Files.write(wal, headerAndPart);
        assertEquals(WalStop.INCOMPLETE, WalFile.summarize(wal).stop());
    }

    @Test
    void aHeaderVersionOtherThanOneIsRefused() throws IOException {
        Path wal = tmp.resolve("wal.log");
        byte[] header = WalWriter.fileHeader();
        header[4] = 2;
        Files.write(wal, header);
        WalFormatException e = assertThrows(WalFormatException.class, () -> WalFile.summarize(wal));
        assertTrue(e.getMessage().contains("version 2"), e.getMessage());
    }

    @Test
    void aZeroLsnAndTheLargestUnsignedLsnAreOrdinaryValues() throws IOException {
        Path wal = tmp.resolve("wal.log");
        Files.write(wal, new byte[0]);
        WalTestFiles.append(wal, WalTestFiles.record(1, WalFormat.UPDATE, -2L, 10, 1));
        WalTestFiles.append(wal, WalTestFiles.record(1, WalFormat.COMMIT, -1L, 0, 2));
        WalSummary s = WalFile.summarize(wal);
        assertEquals(2, s.recordCount());
        assertEquals("18446744073709551615", Long.toUnsignedString(s.lastCommitLsn().getAsLong()));
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void copyingARangeChecksItsRecordsAreStillThere(Version v) throws IOException {
        PowDbFixture f = busyFixture(v, 17);
        Path wal = f.walPath();
        List<WalRecord> all = WalTestFiles.readAll(wal);
        List<FollowedRecord> middle = all.subList(2, 9).stream().map(r -> new FollowedRecord(1, r)).toList();
        WalRange range = WalRange.of(middle);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        WalCopier.copy(wal, range, Channels.newChannel(out));
        byte[] file = Files.readAllBytes(wal);
        assertArrayEquals(Arrays.copyOfRange(file, (int) range.startOffset(), (int) range.endOffset()), out.toByteArray());
        // The same bytes through a buffer smaller than most records.
        ByteArrayOutputStream small = new ByteArrayOutputStream();
        WalCopier.copy(wal, range, Channels.newChannel(small), 40);
        assertArrayEquals(out.toByteArray(), small.toByteArray());

        f.checkpoint();
        f.updatePages("t", v.firstDataPage(), v.firstDataPage() + 1, v.firstDataPage() + 2);
        f.appendPages("t", 2);
        assertTrue(Files.size(wal) >= range.endOffset(), "the new generation reaches past the range");
        assertThrows(WalChangedException.class, () -> WalCopier.copy(wal, range, Channels.newChannel(new ByteArrayOutputStream())));
        assertThrows(WalChangedException.class, () -> WalCopier.readRecord(wal, all.get(3)));
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void copyingARangeWhoseFirstOrLastRecordWasRewrittenInPlaceFails(Version v) throws IOException {
        PowDbFixture f = busyFixture(v, 18);
        Path wal = f.walPath();
        byte[] original = Files.readAllBytes(wal);
        List<io.powdb.backup.testing.WalRecord> parsed = WalTestFiles.fixtureParse(wal);
        List<FollowedRecord> middle = WalTestFiles.readAll(wal).subList(2, 9).stream()
                .map(r -> new FollowedRecord(1, r)).toList();
        WalRange range = WalRange.of(middle);
        // Same length, valid CRC, another tx id: the run still parses back to back with the same count.
        for (int i : new int[] {2, 8}) {
            io.powdb.backup.testing.WalRecord r = parsed.get(i);
            WalTestFiles.overwrite(wal, r.offset(), WalTestFiles.reencoded(r, r.lsn(), r.txId() + 1));
            WalChangedException e = assertThrows(WalChangedException.class,
                    () -> WalCopier.copy(wal, range, Channels.newChannel(new ByteArrayOutputStream())));
            assertTrue(e.getMessage().contains(i == 2 ? "first record" : "last record"), e.getMessage());
            Files.write(wal, original);
        }
        WalCopier.copy(wal, range, Channels.newChannel(new ByteArrayOutputStream()));
    }

    @Test
    void aRangeMustBeOneContiguousRun() {
        WalRecord a = new WalRecord(0, 30, 1, 1, 1, 1);
        WalRecord b = new WalRecord(30, 25, 2, 1, 4, 2);
        WalRecord c = new WalRecord(60, 25, 3, 1, 4, 3);
        assertEquals(55, WalRange.of(List.of(new FollowedRecord(1, a), new FollowedRecord(1, b))).length());
        assertThrows(IllegalArgumentException.class,
                () -> WalRange.of(List.of(new FollowedRecord(1, a), new FollowedRecord(1, c))));
        assertThrows(IllegalArgumentException.class,
                () -> WalRange.of(List.of(new FollowedRecord(1, a), new FollowedRecord(2, b))));
        assertEquals(2, WalRange.upToLastCommit(List.of(new FollowedRecord(1, a), new FollowedRecord(1, b))).get()
                .recordCount());
        assertFalse(WalRange.upToLastCommit(List.of(new FollowedRecord(1, a))).isPresent());
    }
}
