package io.jvirtio.bench;

import io.jvirtio.bench.device.InlineBlkBackend;
import io.jvirtio.blk.VirtioBlkChannel;
import io.jvirtio.blk.VirtioBlkDevice;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * The blk request path: {@link VirtioBlkChannel} read and write of 4 KiB through a full
 * {@link VirtioBlkDevice} (feature negotiation, EVENT_IDX and indirect descriptors as a vhost-user
 * target offers them) against a RAM device completing at the kick on this thread
 * ({@link InlineBlkBackend}). One op is one I/O: validation, the I/O context, the header, the ring,
 * the device's 4 KiB copy, the poll and the callback. {@code read4kDepth32} submits 32 before polling.
 * Setup writes and reads back every block used, byte for byte.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchmarkJvm.NATIVE_ACCESS, BenchmarkJvm.GC, BenchmarkJvm.QUIET, BenchmarkJvm.UNSAFE})
public class BlkReadWriteBenchmark {
    static final int IO_BYTES = 4096;
    static final int DEPTH = 32;
    static final long SLOTS = 256;
    static final long DISK_BYTES = SLOTS * IO_BYTES;
    static final long MEMORY_BYTES = 16L << 20;

    private VirtioBlkDevice blk;
    private VirtioBlkChannel channel;
    private ChannelLoop loop;

    @Setup(Level.Trial)
    public void setUp() {
        blk = InlineBlkBackend.attach("bench-blk", DISK_BYTES, MEMORY_BYTES);
        channel = blk.openChannel();
        MemorySegment[] buffers = new MemorySegment[DEPTH];
        for (int i = 0; i < DEPTH; i++) {
            buffers[i] = blk.allocateBuffer(IO_BYTES, IO_BYTES);
        }
        loop = new ChannelLoop(channel, buffers, SLOTS);
        loop.verifyRoundTrip();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        loop.checkNoErrors();
        channel.close();
        blk.close();
    }

    @Benchmark
    public long read4k() {
        return loop.run(false, 1);
    }

    @Benchmark
    public long write4k() {
        return loop.run(true, 1);
    }

    /** 32 reads submitted, then polled to completion; the figure is per read. */
    @Benchmark
    @OperationsPerInvocation(DEPTH)
    public long read4kDepth32() {
        return loop.run(false, DEPTH);
    }
}
