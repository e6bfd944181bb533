package io.jvirtio.bench;

import io.jvirtio.bdev.SyncIo;
import io.jvirtio.bench.device.InlineBlkBackend;
import io.jvirtio.blk.VirtioBlkChannel;
import io.jvirtio.blk.VirtioBlkDevice;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * {@link SyncIo}, the blocking convenience for setup code and tools, over a blk channel against the
 * same in-process device as {@link BlkReadWriteBenchmark}: one 4 KiB read or write per op, submitted
 * and polled to completion by SyncIo. The difference from {@code BlkReadWriteBenchmark.read4k} is
 * SyncIo's own cost (its per-call token and submission lambda).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchmarkJvm.NATIVE_ACCESS, BenchmarkJvm.GC, BenchmarkJvm.QUIET, BenchmarkJvm.UNSAFE})
public class SyncIoBenchmark {
    private static final int IO_BYTES = BlkReadWriteBenchmark.IO_BYTES;
    private static final long SLOTS = BlkReadWriteBenchmark.SLOTS;

    private VirtioBlkDevice blk;
    private VirtioBlkChannel channel;
    private SyncIo io;
    private MemorySegment buffer;
    private long next;

    @Setup(Level.Trial)
    public void setUp() {
        blk = InlineBlkBackend.attach("bench-syncio", SLOTS * IO_BYTES, BlkReadWriteBenchmark.MEMORY_BYTES);
        channel = blk.openChannel();
        io = new SyncIo(channel);
        buffer = blk.allocateBuffer(IO_BYTES, IO_BYTES);
        MemorySegment check = blk.allocateBuffer(IO_BYTES, IO_BYTES);
        for (long i = 0; i < IO_BYTES; i++) {
            buffer.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) (i * 31 + 7));
        }
        io.write(buffer, IO_BYTES);
        io.read(check, IO_BYTES);
        long mismatch = buffer.mismatch(check);
        if (mismatch >= 0) {
            throw new IllegalStateException("SyncIo read back differs from what it wrote at byte " + mismatch);
        }
        blk.freeBuffer(check);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        channel.close();
        blk.close();
    }

    @Benchmark
    public long read4k() {
        long offset = (next++ % SLOTS) * IO_BYTES;
        io.read(buffer, offset);
        return offset;
    }

    @Benchmark
    public long write4k() {
        long offset = (next++ % SLOTS) * IO_BYTES;
        io.write(buffer, offset);
        return offset;
    }
}
