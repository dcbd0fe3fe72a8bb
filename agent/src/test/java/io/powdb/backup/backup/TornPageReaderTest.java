package io.powdb.backup.backup;

import io.powdb.backup.testing.PowDbFixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A page read while PowDB writes it is re-read until it is whole; one that never settles is counted. */
class TornPageReaderTest {
    @TempDir
    Path tmp;

    @Test
    void aTornPageWithACrcIsReReadUntilItChecksOut() throws Exception {
        PowDbFixture db = PowDbFixture.create(tmp.resolve("d"), PowDbFixture.Version.V0_5, 3);
        db.createTable("t", 4);
        db.checkpoint();
        Path heap = db.heapPath("t");
        byte[] whole = Files.readAllBytes(heap);
        // What a reader sees mid-write: the page's first half new, its second half old.
        byte[] batch = whole.clone();
        batch[2 * 4096 + 3000] ^= 0x40;
        TornPageReader reader = new TornPageReader(4 * 4096);
        try (FileChannel channel = FileChannel.open(heap, StandardOpenOption.READ)) {
            assertEquals(0, reader.settle(channel, batch, 0, 4));
        }
        assertArrayEquals(whole, batch, "the torn page was replaced by a whole read");
        assertTrue(reader.rereads() >= 1);
    }

    @Test
    void aPageWithoutCrcThatDiffersBetweenTwoReadsIsReReadUntilTwoAgree() throws Exception {
        PowDbFixture db = PowDbFixture.create(tmp.resolve("d"), PowDbFixture.Version.V0_4, 3);
        db.createTable("t", 8);
        db.checkpoint();
        Path heap = db.heapPath("t");
        byte[] whole = Files.readAllBytes(heap);
        int page = -1;
        for (int i = 0; i < 8 && page < 0; i++) {
            if (!PowDbFixture.pageHasCrc(heap, i)) {
                page = i;
            }
        }
        assertTrue(page >= 0, "the 0.4 fixture leaves some pages without a CRC");
        byte[] batch = whole.clone();
        batch[page * 4096 + 100] ^= 0x01; // the first read saw a write in progress
        TornPageReader reader = new TornPageReader(8 * 4096);
        try (FileChannel channel = FileChannel.open(heap, StandardOpenOption.READ)) {
            assertEquals(0, reader.settle(channel, batch, 0, 8));
        }
        assertArrayEquals(whole, batch);
    }

    @Test
    void aPageWhoseCrcNeverChecksOutIsCountedAndKept() throws Exception {
        PowDbFixture db = PowDbFixture.create(tmp.resolve("d"), PowDbFixture.Version.V0_5, 3);
        db.createTable("t", 3);
        db.checkpoint();
        db.corruptPage("t", 1); // damaged on disk: every read is the same bad page
        Path heap = db.heapPath("t");
        byte[] batch = Files.readAllBytes(heap);
        TornPageReader reader = new TornPageReader(3 * 4096);
        try (FileChannel channel = FileChannel.open(heap, StandardOpenOption.READ)) {
            assertEquals(1, reader.settle(channel, batch, 0, 3));
        }
        assertArrayEquals(Files.readAllBytes(heap), batch);
        assertEquals(TornPageReader.MAX_REREADS, reader.rereads());
    }
}
