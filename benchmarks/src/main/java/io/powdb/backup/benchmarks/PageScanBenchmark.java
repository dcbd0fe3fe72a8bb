package io.powdb.backup.benchmarks;

import io.powdb.backup.format.HeapPage;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;
import java.util.zip.CRC32C;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The per-page work of a heap scan, over a {@code size}-byte heap image in memory (no I/O): what
 * {@code HeapCapture.capture} does for every page it reads (the page LSN, our CRC32C fingerprint of the
 * page, PowDB's CRC32 check where the page has one, the running maximum LSN, the page map entry and the
 * digest of all entries), and each of those parts alone. One operation scans the whole image: MB/s is ops/s
 * times size / 10^6 (bench/jmh.sh prints it).
 *
 * <p>The image has random page contents, increasing LSNs and a valid CRC32 on every other page (about half
 * of PowDB 0.4.x pages carry one).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 3, time = 5)
@Fork(1)
public class PageScanBenchmark {
    private static final int FLAGS_OFFSET = 5;
    private static final int LSN_OFFSET = 8;
    private static final int CRC_OFFSET = 16;

    @Param({"67108864"})
    public int size;

    private byte[] image;
    private int pages;
    /** The page map being written, as {@code PageMap.Writer} holds it: 12 bytes per page. */
    private ByteBuffer map;

    @Setup(Level.Trial)
    public void setUp() {
        pages = size / HeapPage.SIZE;
        image = new byte[pages * HeapPage.SIZE];
        Random random = new Random(64);
        random.nextBytes(image);
        ByteBuffer view = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        for (int page = 0; page < pages; page++) {
            int offset = page * HeapPage.SIZE;
            view.putLong(offset + LSN_OFFSET, 1000L + page * 7L);
            boolean crc = page % 2 == 0;
            image[offset + FLAGS_OFFSET] = (byte) (crc ? 1 : 0);
            if (crc) {
                view.putInt(offset + CRC_OFFSET, 0);
                CRC32 crc32 = new CRC32();
                crc32.update(image, offset, HeapPage.SIZE);
                view.putInt(offset + CRC_OFFSET, (int) crc32.getValue());
            }
        }
        map = ByteBuffer.allocate(12 * pages).order(ByteOrder.LITTLE_ENDIAN);
        if (!HeapPage.crcMatches(image, 0) || !HeapPage.crcMatches(image, HeapPage.SIZE)) {
            throw new IllegalStateException("test image is wrong");
        }
    }

    /** Everything the capture does per page, as it does it. */
    @Benchmark
    public long scan() {
        CRC32C digest = new CRC32C();
        ByteBuffer entry = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
        map.clear();
        long maxLsn = 0;
        long badCrc = 0;
        for (int page = 0; page < pages; page++) {
            int offset = page * HeapPage.SIZE;
            long lsn = HeapPage.lsn(image, offset);
            int fingerprint = HeapPage.fingerprint(image, offset);
            if (!HeapPage.crcMatches(image, offset)) {
                badCrc++;
            }
            if (Long.compareUnsigned(lsn, maxLsn) > 0) {
                maxLsn = lsn;
            }
            map.putLong(lsn).putInt(fingerprint);
            entry.clear();
            entry.putLong(lsn).putInt(fingerprint);
            digest.update(entry.array());
        }
        return maxLsn ^ badCrc ^ digest.getValue();
    }

    @Benchmark
    public void lsn(Blackhole blackhole) {
        for (int page = 0; page < pages; page++) {
            blackhole.consume(HeapPage.lsn(image, page * HeapPage.SIZE));
        }
    }

    /** Our CRC32C of every page (hardware-accelerated). */
    @Benchmark
    public void fingerprint(Blackhole blackhole) {
        for (int page = 0; page < pages; page++) {
            blackhole.consume(HeapPage.fingerprint(image, page * HeapPage.SIZE));
        }
    }

    /** PowDB's CRC32 of the pages that carry one. */
    @Benchmark
    public void crcCheck(Blackhole blackhole) {
        for (int page = 0; page < pages; page++) {
            blackhole.consume(HeapPage.crcMatches(image, page * HeapPage.SIZE));
        }
    }
}
