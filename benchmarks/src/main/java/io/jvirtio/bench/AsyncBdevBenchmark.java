package io.jvirtio.bench;

import io.jvirtio.bdev.async.AsyncBdev;
import io.jvirtio.bench.device.InlineBlkBackend;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * What the async layer costs over the callback path ({@link BlkReadWriteBenchmark}): the same in-process
 * blk device, driven through {@link AsyncBdev}'s poller thread. {@code blockingRead4k} hands one read to the
 * poller and parks until it is back (two thread hand-offs per I/O: the figure is dominated by wake-up
 * latency, not by jvirtio); {@code futures32} keeps 32 futures in flight, the throughput shape of an engine
 * with many callers. Not a hot path: it allocates the request and its future per I/O.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchmarkJvm.NATIVE_ACCESS, BenchmarkJvm.GC, BenchmarkJvm.QUIET, BenchmarkJvm.UNSAFE})
public class AsyncBdevBenchmark {
    private static final int IO_BYTES = BlkReadWriteBenchmark.IO_BYTES;
    private static final long SLOTS = BlkReadWriteBenchmark.SLOTS;
    private static final int DEPTH = 32;

    private VirtioBlkDevice blk;
    private AsyncBdev io;
    private MemorySegment[] buffers;
    private long next;

    @Setup(Level.Trial)
    public void setUp() {
        blk = InlineBlkBackend.attach("bench-async", SLOTS * IO_BYTES, BlkReadWriteBenchmark.MEMORY_BYTES);
        io = AsyncBdev.open(blk);
        buffers = new MemorySegment[DEPTH];
        for (int i = 0; i < DEPTH; i++) {
            buffers[i] = blk.allocateBuffer(IO_BYTES, IO_BYTES);
            buffers[i].fill((byte) (i + 1));
        }
        MemorySegment check = blk.allocateBuffer(IO_BYTES, IO_BYTES);
        io.write(buffers[3], IO_BYTES);
        io.read(check, IO_BYTES);
        if (buffers[3].mismatch(check) >= 0) {
            throw new IllegalStateException("async read back differs from what it wrote");
        }
        blk.freeBuffer(check);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        io.close();
        blk.close();
    }

    @Benchmark
    public long blockingRead4k() {
        long offset = (next++ % SLOTS) * IO_BYTES;
        io.read(buffers[0], offset);
        return offset;
    }

    /** One op = 32 reads in flight at once, waited for together. */
    @Benchmark
    @org.openjdk.jmh.annotations.OperationsPerInvocation(DEPTH)
    public void futures32() {
        CompletableFuture<?>[] fs = new CompletableFuture<?>[DEPTH];
        for (int i = 0; i < DEPTH; i++) {
            fs[i] = io.readAsync(buffers[i], (next++ % SLOTS) * IO_BYTES);
        }
        CompletableFuture.allOf(fs).join();
    }
}
