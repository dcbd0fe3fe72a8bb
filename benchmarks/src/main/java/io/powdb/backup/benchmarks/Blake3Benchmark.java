package io.powdb.backup.benchmarks;

import io.powdb.backup.integrity.Blake3;

import java.util.Random;
import java.util.concurrent.TimeUnit;

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

/**
 * BLAKE3 throughput: ours on the calling thread only, ours with the hashing pool ({@code powdb.hash.threads},
 * the number of processors by default), and commons-codec's (what the agent used before). Each operation
 * hashes {@code size} bytes, so MB/s is ops/s times size / 10^6 (bench/jmh.sh prints it).
 *
 * <p>The {@code Streaming} variants feed the input in 64 KiB pieces, as the agent's streams do.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 3, time = 5)
@Fork(1)
public class Blake3Benchmark {
    private static final int PIECE = 64 << 10;

    @Param({"4096", "1048576", "67108864"})
    public int size;

    private byte[] data;

    @Setup(Level.Trial)
    public void setUp() {
        data = new byte[size];
        new Random(size).nextBytes(data);
    }

    @Benchmark
    public byte[] oursSingleThread() {
        return Blake3.sequential().update(data).digest();
    }

    @Benchmark
    public byte[] oursParallel() {
        return new Blake3().update(data).digest();
    }

    @Benchmark
    public byte[] oursParallelStreaming() {
        Blake3 hasher = new Blake3();
        for (int offset = 0; offset < size; offset += PIECE) {
            hasher.update(data, offset, Math.min(PIECE, size - offset));
        }
        return hasher.digest();
    }

    @Benchmark
    public byte[] oursSingleThreadStreaming() {
        Blake3 hasher = Blake3.sequential();
        for (int offset = 0; offset < size; offset += PIECE) {
            hasher.update(data, offset, Math.min(PIECE, size - offset));
        }
        return hasher.digest();
    }

    @Benchmark
    public byte[] commonsCodec() {
        return org.apache.commons.codec.digest.Blake3.initHash().update(data).doFinalize(Blake3.HASH_BYTES);
    }
}
