package io.powdb.backup.benchmarks;

import io.powdb.backup.crypto.DataKey;
import io.powdb.backup.crypto.OpeningInputStream;
import io.powdb.backup.crypto.SealingOutputStream;
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

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The chunked AES-256-GCM object format (client-side encryption): sealing and opening {@code size} bytes
 * written and read in 64 KiB pieces, as the agent's streams do. MB/s is ops/s times size / 10^6 (bench/jmh.sh
 * prints it). The JDK's AES-GCM uses AES-NI and carry-less multiply where the CPU has them.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 3, time = 5)
@Fork(1)
public class EncryptionBenchmark {
    private static final int PIECE = 64 << 10;
    private static final String OBJECT = "data/20261121T101500123Z-3fa9c1/heaps/t.heap";

    @Param({"1048576", "67108864"})
    public int size;

    private byte[] data;
    private byte[] sealed;
    private DataKey key;
    private byte[] piece;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        data = new byte[size];
        new Random(size).nextBytes(data);
        key = DataKey.random("backup-20261121T101500123Z-3fa9c1");
        sealed = seal();
        piece = new byte[PIECE];
    }

    @Benchmark
    public byte[] seal() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream(size + (size >> 10) + 256);
        try (SealingOutputStream s = new SealingOutputStream(out, key, OBJECT)) {
            for (int offset = 0; offset < size; offset += PIECE) {
                s.write(data, offset, Math.min(PIECE, size - offset));
            }
        }
        return out.toByteArray();
    }

    @Benchmark
    public long open() throws IOException {
        long total = 0;
        try (InputStream in = new OpeningInputStream(new ByteArrayInputStream(sealed), OBJECT, key.name(), n -> key)) {
            for (int n = in.read(piece); n >= 0; n = in.read(piece)) {
                total += n;
            }
        }
        return total;
    }

    /** The floor: the same bytes copied through a stream with no encryption. */
    @Benchmark
    public long copyOnly() throws IOException {
        OutputStream out = OutputStream.nullOutputStream();
        long total = 0;
        try (InputStream in = new ByteArrayInputStream(data)) {
            for (int n = in.read(piece); n >= 0; n = in.read(piece)) {
                out.write(piece, 0, n);
                total += n;
            }
        }
        return total;
    }
}
