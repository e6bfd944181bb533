package io.jvirtio.tools.perf;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.IoCallback;
import io.jvirtio.bdev.IoChannel;
import io.jvirtio.core.VirtioException;
import org.HdrHistogram.Histogram;

import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One bdevperf-style job: one thread, one channel, {@code queueDepth} I/Os kept in flight for a
 * time, latencies into an HdrHistogram. The measuring loop allocates nothing: slots are reused,
 * offsets come from a {@link SplittableRandom}, the histogram has a fixed range.
 */
public final class PerfJob implements IoCallback {
    /** Latencies beyond this are clamped: 10 s. */
    private static final long MAX_TRACKED_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final long PROGRESS_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** How long in-flight I/O may take to come back once the measured time is over. */
    private static final long DRAIN_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final Bdev bdev;
    private final Workload workload;
    private final int queueDepth;
    private final int ioSize;
    private final int readPercent;
    private final long durationNanos;
    private final SplittableRandom random;
    private final Histogram histogram = new Histogram(1, MAX_TRACKED_NANOS, 3);
    private final long slotsInRange;

    private IoChannel channel;
    private Slot[] slots;
    private long nextSequential;
    private long ios;
    private long bytes;
    private long errors;
    private boolean stopping;
    private VirtioException firstError;

    private static final class Slot {
        MemorySegment buffer;
        long startNanos;
        boolean write;
    }

    /**
     * @param bdev          the bdev
     * @param workload      the pattern
     * @param queueDepth    I/Os in flight
     * @param ioSize        bytes per I/O, a multiple of the block size
     * @param rwmixread     read percentage for rw / randrw
     * @param durationNanos how long to measure
     * @param seed          random seed for offsets and the read/write mix
     */
    public PerfJob(Bdev bdev, Workload workload, int queueDepth, int ioSize, int rwmixread, long durationNanos, long seed) {
        if (ioSize <= 0 || ioSize % bdev.blockSize() != 0) {
            throw new IllegalArgumentException("-o " + ioSize + ": I/O size must be a positive multiple of " + bdev.name()
                    + "'s block size " + bdev.blockSize());
        }
        if (queueDepth < 1) {
            throw new IllegalArgumentException("-q " + queueDepth + ": queue depth must be at least 1");
        }
        this.bdev = bdev;
        this.workload = workload;
        this.queueDepth = queueDepth;
        this.ioSize = ioSize;
        this.readPercent = workload.readPercent(rwmixread);
        this.durationNanos = durationNanos;
        this.random = new SplittableRandom(seed);
        this.slotsInRange = bdev.blockCount() * bdev.blockSize() / ioSize;
        if (slotsInRange < 1) {
            throw new IllegalArgumentException("-o " + ioSize + ": larger than " + bdev.name());
        }
    }

    /**
     * Runs the job on the calling thread.
     *
     * @param progress called about once a second with a progress line, or null
     * @return the measurement
     */
    public PerfResult run(Consumer<String> progress) {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        channel = bdev.openChannel();
        slots = new Slot[queueDepth];
        try {
            for (int i = 0; i < queueDepth; i++) {
                slots[i] = new Slot();
                slots[i].buffer = bdev.allocateBuffer(ioSize, 4096);
                fillPattern(slots[i].buffer, i);
            }
            long cpu0 = threads.getCurrentThreadCpuTime();
            long t0 = System.nanoTime();
            long end = t0 + durationNanos;
            long nextProgress = t0 + PROGRESS_NANOS;
            long lastIos = 0;
            for (Slot s : slots) {
                submit(s);
            }
            while (true) {
                channel.poll();
                long now = System.nanoTime();
                if (now - end >= 0) {
                    break;
                }
                if (progress != null && now - nextProgress >= 0) {
                    double secs = (now - t0) / 1e9;
                    progress.accept(String.format("%6.1f s  %s: %,10.0f IOPS  %,8.2f MiB/s  (last second: %,.0f IOPS)",
                            secs, bdev.name(), ios / secs, bytes / secs / (1 << 20), (double) (ios - lastIos)));
                    lastIos = ios;
                    nextProgress += PROGRESS_NANOS;
                }
            }
            long elapsed = System.nanoTime() - t0;
            long cpu = threads.getCurrentThreadCpuTime() - cpu0;
            long measuredIos = ios;
            long measuredBytes = bytes;
            stopping = true;
            long drainDeadline = System.nanoTime() + DRAIN_NANOS;
            while (channel.inFlight() > 0 && System.nanoTime() - drainDeadline < 0) {
                channel.poll();
            }
            if (channel.inFlight() > 0) {
                throw new IllegalStateException(bdev.name() + ": " + channel.inFlight() + " I/Os not completed by the device "
                        + TimeUnit.NANOSECONDS.toMillis(DRAIN_NANOS) + " ms after the run ended");
            }
            if (firstError != null && measuredIos == 0) {
                throw firstError;
            }
            return new PerfResult(bdev.name(), workload, queueDepth, ioSize, measuredIos, measuredBytes, errors, elapsed, cpu,
                    histogram.copy());
        } finally {
            channel.close();
            for (Slot s : slots) {
                if (s != null && s.buffer != null) {
                    bdev.freeBuffer(s.buffer);
                }
            }
        }
    }

    private static void fillPattern(MemorySegment buffer, int seed) {
        for (long off = 0; off + 8 <= buffer.byteSize(); off += 8) {
            buffer.set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, off, off * 31 + seed);
        }
    }

    private void submit(Slot s) {
        long slot = workload.random() ? random.nextLong(slotsInRange) : nextSequential++ % slotsInRange;
        long offset = slot * ioSize;
        s.write = readPercent < 100 && (readPercent == 0 || random.nextInt(100) >= readPercent);
        s.startNanos = System.nanoTime();
        boolean accepted = s.write ? channel.write(s.buffer, offset, this, s) : channel.read(s.buffer, offset, this, s);
        if (!accepted) {
            throw new IllegalStateException("channel refused an I/O at depth " + queueDepth + "; raise the channel depth");
        }
    }

    @Override
    public void onComplete(Object context, VirtioException error) {
        Slot s = (Slot) context;
        long lat = System.nanoTime() - s.startNanos;
        if (error != null) {
            errors++;
            if (firstError == null) {
                firstError = error;
            }
        } else if (!stopping) {
            ios++;
            bytes += ioSize;
            histogram.recordValue(Math.min(Math.max(lat, 1), MAX_TRACKED_NANOS));
        }
        if (!stopping) {
            submit(s);
        }
    }
}
