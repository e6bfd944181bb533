package io.jvirtio.bench;

import io.jvirtio.bench.device.DeviceChain;
import io.jvirtio.bench.device.InlineSplitRing;
import io.jvirtio.core.ring.SplitVirtqueue;
import io.jvirtio.core.ring.UsedSink;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.spec.ring.SplitRingLayout;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * One split virtqueue, driver side ({@link SplitVirtqueue}) against an allocation-free device on the
 * same thread ({@link InlineSplitRing}, run from the kick): reqStart, reqAddIov per buffer, reqFlush
 * (whose kick has the device complete the batch), poll. One op is one request, so the batch-of-32
 * figure is the cost per request when 32 share a flush, a kick and a poll. The device does no data
 * work (it reports the writable bytes as written): this is the ring's own cost.
 *
 * <p>{@code chainLength} 1 is one writable 4 KiB buffer; 3 is a block request's shape (16-byte
 * readable header, 4 KiB writable data, 1-byte writable status) as a direct NEXT chain.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchmarkJvm.NATIVE_ACCESS, BenchmarkJvm.GC, BenchmarkJvm.QUIET, BenchmarkJvm.UNSAFE})
public class SplitRingSubmitCompleteBenchmark {
    private static final int QUEUE_SIZE = 256;
    private static final int BATCH = 32;
    private static final int HEADER_BYTES = 16;
    private static final int DATA_BYTES = 4096;
    private static final int STATUS_BYTES = 1;

    /** Buffers per request. */
    @Param({"1", "3"})
    public int chainLength;

    private Arena arena;
    private SplitVirtqueue vq;
    private InlineSplitRing device;
    private final Object[] cookies = new Object[QUEUE_SIZE];
    private final CountingSink sink = new CountingSink();
    private long header;
    private long data;
    private long status;

    /** Counts completions; allocation-free. */
    static final class CountingSink implements UsedSink {
        long used;
        long bytes;
        long errors;

        @Override
        public void onUsed(Object cookie, int len) {
            used++;
            bytes += len;
        }

        @Override
        public void onError(Object cookie, VirtioException error) {
            errors++;
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        MemorySegment ring = arena.allocate(SplitRingLayout.totalBytes(QUEUE_SIZE), SplitRingLayout.VIRTIO_PCI_VRING_ALIGN);
        long base = ring.address();
        device = new InlineSplitRing(QUEUE_SIZE, base + SplitRingLayout.descTableOffset(), base + SplitRingLayout.availOffset(QUEUE_SIZE),
                base + SplitRingLayout.usedOffset(QUEUE_SIZE), 0, true, chainLength);
        InlineSplitRing.ChainHandler handler = SplitRingSubmitCompleteBenchmark::writableBytes;
        vq = new SplitVirtqueue("bench-q0", 0, QUEUE_SIZE, ring, null, 0, true, q -> device.process(handler));
        header = arena.allocate(HEADER_BYTES, 8).address();
        data = arena.allocate(DATA_BYTES, 4096).address();
        status = arena.allocate(STATUS_BYTES, 1).address();
        for (int i = 0; i < QUEUE_SIZE; i++) {
            cookies[i] = "req" + i;
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        long expectedLen = chainLength == 1 ? DATA_BYTES : DATA_BYTES + STATUS_BYTES;
        if (sink.errors != 0 || vq.isBroken() || sink.bytes != sink.used * expectedLen || device.completed() != sink.used) {
            throw new IllegalStateException("ring benchmark went wrong: " + sink.used + " used, " + sink.bytes + " bytes, " + sink.errors
                    + " errors, device completed " + device.completed() + ", " + vq);
        }
        arena.close();
    }

    /** One request: submit, flush (the device completes it), poll. */
    @Benchmark
    public int submitComplete() {
        submit(1);
        return complete(1);
    }

    /** 32 requests under one flush and one poll; the figure is per request. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int submitCompleteBatch32() {
        submit(BATCH);
        return complete(BATCH);
    }

    private void submit(int n) {
        for (int i = 0; i < n; i++) {
            if (!vq.reqStart(cookies[i], chainLength)) {
                throw new IllegalStateException("queue full: " + vq);
            }
            if (chainLength == 1) {
                vq.reqAddIov(data, DATA_BYTES, true);
            } else {
                vq.reqAddIov(header, HEADER_BYTES, false);
                vq.reqAddIov(data, DATA_BYTES, true);
                vq.reqAddIov(status, STATUS_BYTES, true);
            }
        }
        vq.reqFlush();
    }

    private int complete(int n) {
        int got = vq.poll(n, sink);
        if (got != n) {
            throw new IllegalStateException("the inline device completed " + got + " of " + n + ": " + vq);
        }
        return got;
    }

    private static int writableBytes(DeviceChain chain) {
        int len = 0;
        for (int i = chain.readableCount(); i < chain.count(); i++) {
            len += chain.length(i);
        }
        return len;
    }
}
