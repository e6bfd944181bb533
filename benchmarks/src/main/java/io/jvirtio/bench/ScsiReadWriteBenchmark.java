package io.jvirtio.bench;

import io.jvirtio.bench.device.InlineScsiBackend;
import io.jvirtio.scsi.VirtioScsiChannel;
import io.jvirtio.scsi.VirtioScsiController;
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
 * The scsi CDB path: {@link VirtioScsiChannel} read and write of 4 KiB on LUN 0 of a
 * {@link VirtioScsiController} (attached and scanned as over any transport) against a RAM controller
 * completing at the kick on this thread ({@link InlineScsiBackend}). One op is one I/O: the CDB
 * (READ/WRITE(10) or (16)), the request and response headers, the ring, the device's copy, the response
 * check and the callback. Setup writes and reads back every block used, byte for byte.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchmarkJvm.NATIVE_ACCESS, BenchmarkJvm.GC, BenchmarkJvm.QUIET, BenchmarkJvm.UNSAFE})
public class ScsiReadWriteBenchmark {
    private static final int IO_BYTES = BlkReadWriteBenchmark.IO_BYTES;
    private static final int DEPTH = BlkReadWriteBenchmark.DEPTH;
    private static final long SLOTS = BlkReadWriteBenchmark.SLOTS;
    private static final int BLOCK_SIZE = 512;

    private VirtioScsiController controller;
    private VirtioScsiChannel channel;
    private ChannelLoop loop;

    @Setup(Level.Trial)
    public void setUp() {
        controller = InlineScsiBackend.attach("bench-scsi", 1, SLOTS * IO_BYTES, BLOCK_SIZE, BlkReadWriteBenchmark.MEMORY_BYTES);
        channel = controller.disk(0, 0).orElseThrow(() -> new IllegalStateException("the scan found no LUN 0 on target 0")).openChannel();
        MemorySegment[] buffers = new MemorySegment[DEPTH];
        for (int i = 0; i < DEPTH; i++) {
            buffers[i] = controller.memory().allocate(IO_BYTES, IO_BYTES);
        }
        loop = new ChannelLoop(channel, buffers, SLOTS);
        loop.verifyRoundTrip();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        loop.checkNoErrors();
        channel.close();
        controller.close();
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
