package io.jvirtio.tools.perf;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.CompletionMode;
import io.jvirtio.bdev.IoCallback;
import io.jvirtio.bdev.IoChannel;
import io.jvirtio.spec.VirtioException;
import org.HdrHistogram.Histogram;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One bdevperf-style job: one channel, {@code queueDepth} I/Os kept in flight for a time,
 * latencies into an HdrHistogram. It runs in steps ({@link #open}, {@link #begin}, {@link #poll},
 * {@link #drain}, {@link #result}, {@link #close}) so that one core thread of {@link JobRunner} can
 * drive several jobs round-robin, or alone with {@link #run}; all steps on the same thread. The measuring loop allocates nothing: slots are reused,
 * offsets come from a {@link SplittableRandom}, the histogram has a fixed range.
 */
public final class PerfJob implements IoCallback {
    /** Latencies beyond this are clamped: 10 s. */
    private static final long MAX_TRACKED_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final VarHandle LIVE_IOS;
    private static final VarHandle LIVE_BYTES;
    private static final VarHandle LIVE_RUNNING;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            LIVE_IOS = l.findVarHandle(PerfJob.class, "liveIos", long.class);
            LIVE_BYTES = l.findVarHandle(PerfJob.class, "liveBytes", long.class);
            LIVE_RUNNING = l.findVarHandle(PerfJob.class, "liveRunning", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
    /** The longest wait of one {@link #waitStep}, so the end of the run is seen on time. */
    private static final long WAIT_STEP_NANOS = TimeUnit.MILLISECONDS.toNanos(5);
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
    /** I/O-size units this job may address, starting at {@link #firstUnit} */
    private final long slotsInRange;
    private final long firstUnit;

    private IoChannel channel;
    /** --warmup: how long to run unmeasured before {@link #begin} */
    private long warmupNanos;
    /** in {@link #warmUp}: completions are not counted */
    private boolean warming;
    private CompletionMode completion = CompletionMode.polling();
    /** --rate: nanoseconds between two submissions of the job, 0 = as fast as completions come back */
    private long intervalNanos;
    /** --rate: when the next paced submission is due */
    private long nextDueNanos;
    /** --rate: slots waiting for their turn, a FIFO over {@link #paced} */
    private Slot[] paced;
    private int pacedHead;
    private int pacedCount;
    private Slot[] slots;
    private long nextSequential;
    private long ios;
    private long bytes;
    private long errors;
    private long miscompares;
    private boolean stopping;
    private VirtioException firstError;
    /** slots whose next I/O the channel refused (the device is gone): they stay idle */
    private int idleSlots;
    private Consumer<String> events;
    private long t0;
    private long end;
    private long drainDeadline;
    private long elapsedNanos;
    private long measuredIos;
    private long measuredBytes;
    /** slots whose I/O the queue had no room for (its ring is shared with other LUNs' channels): retried at the next poll */
    private Slot[] deferred;
    private int deferredCount;
    @SuppressWarnings("unused")
    private boolean liveRunning;
    /** {@link #ios} and {@link #bytes} as other threads may read them (opaque stores once per poll round) */
    @SuppressWarnings("unused")
    private long liveIos;
    @SuppressWarnings("unused")
    private long liveBytes;

    private static final class Slot {
        int index;
        MemorySegment buffer;
        /** verify: where the read-back lands */
        MemorySegment readBack;
        long startNanos;
        /** the completion time of the slot's last I/O when it is resubmitted from that completion, else 0 */
        long resubmitNanos;
        long offset;
        long seq;
        boolean write;
        /** verify: the write is done, the read-back is in flight */
        boolean verifying;
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
        this(bdev, workload, queueDepth, ioSize, rwmixread, durationNanos, seed, 0, 1);
    }

    /**
     * A job that is one of {@code jobCount} on the same bdev. For verify, each job owns its own
     * slice of the bdev and each of its slots its own offsets within it, so no two I/Os in flight
     * ever touch the same block and a read-back can only differ if the device lost data.
     *
     * @param jobIndex this job's number, 0-based
     * @param jobCount jobs on the bdev
     */
    public PerfJob(Bdev bdev, Workload workload, int queueDepth, int ioSize, int rwmixread, long durationNanos, long seed,
                   int jobIndex, int jobCount) {
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
        long units = bdev.blockCount() * bdev.blockSize() / ioSize;
        boolean exclusive = workload.op() == Workload.Op.VERIFY;
        this.slotsInRange = exclusive ? units / jobCount : units;
        this.firstUnit = exclusive ? slotsInRange * jobIndex : 0;
        if (exclusive && slotsInRange < queueDepth) {
            throw new IllegalArgumentException("-o " + ioSize + " -q " + queueDepth + ": " + bdev.name() + " is too small to give each of "
                    + jobCount + " verify jobs " + queueDepth + " distinct I/O units");
        }
        if (slotsInRange < 1) {
            throw new IllegalArgumentException("-o " + ioSize + ": larger than " + bdev.name());
        }
    }

    /**
     * Runs the job alone on the calling thread ({@link #open}, {@link #begin}, {@link #poll} until
     * done, {@link #drain}, {@link #result}, {@link #close}); its CPU is the thread's.
     *
     * @param events called with the job's first error as it happens (a line naming the bdev), or null
     * @return the measurement
     */
    public PerfResult run(Consumer<String> events) {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        try {
            open();
            long cpu0 = threads.getCurrentThreadCpuTime();
            begin(System.nanoTime(), events);
            while (poll(System.nanoTime())) {
                // measuring
            }
            long cpu = threads.getCurrentThreadCpuTime() - cpu0;
            while (drain(System.nanoTime())) {
                // draining
            }
            return result(cpu);
        } finally {
            close();
        }
    }

    /**
     * How the job waits and how fast it submits; before {@link #open}.
     *
     * @param mode      the channel's completion mode (interrupt and adaptive sleep on its completion fd)
     * @param rateIops  submissions per second of this job (0: each completion resubmits at once, bdevperf's way)
     */
    public void pacing(CompletionMode mode, long rateIops) {
        this.completion = mode;
        this.intervalNanos = rateIops > 0 ? Math.max(1, 1_000_000_000L / rateIops) : 0;
    }

    /**
     * Sets an unmeasured run before the measured one ({@link #warmUp}), fio's {@code ramp_time}: the JIT
     * compiles the I/O path while nothing is measured. Before {@link #open}.
     */
    public void warmup(long nanos) {
        this.warmupNanos = Math.max(0, nanos);
    }

    /**
     * Runs the job's I/O for the warm-up time without counting it (errors and miscompares still count),
     * then lets what is in flight come back; on the job's thread, after {@link #open}, before {@link #begin}.
     * A paced job ({@code --rate}) is not warmed up: its speed is not the point.
     */
    public void warmUp() {
        if (warmupNanos == 0 || intervalNanos > 0) {
            return;
        }
        warming = true;
        long end = System.nanoTime() + warmupNanos;
        for (Slot s : slots) {
            submit(s);
        }
        while (System.nanoTime() - end < 0 && idleSlots < queueDepth) {
            reap();
        }
        stopping = true; // completions stop resubmitting
        long deadline = System.nanoTime() + DRAIN_NANOS;
        while (channel.inFlight() > 0 && System.nanoTime() - deadline < 0) {
            channel.poll();
        }
        for (int i = 0; i < deferredCount; i++) {
            deferred[i] = null;
        }
        deferredCount = 0;
        for (Slot s : slots) {
            s.verifying = false;
            s.resubmitNanos = 0;
        }
        idleSlots = 0;
        stopping = false;
        warming = false;
    }

    /** @return whether the job's core loop should wait through {@link #waitStep} (a sleeping mode or a rate) rather than spin on {@link #reap} */
    public boolean waits() {
        return completion.sleeps() || intervalNanos > 0;
    }

    /** Opens the job's channel on the calling thread and allocates its buffers; the thread that calls this drives the job. */
    public void open() {
        channel = bdev.openChannel();
        if (completion.sleeps()) {
            channel.setCompletionMode(completion);
        }
        paced = new Slot[queueDepth];
        slots = new Slot[queueDepth];
        deferred = new Slot[queueDepth];
        for (int i = 0; i < queueDepth; i++) {
            slots[i] = new Slot();
            slots[i].index = i;
            slots[i].buffer = bdev.allocateBuffer(ioSize, 4096);
            fillPattern(slots[i].buffer, i);
            if (workload.op() == Workload.Op.VERIFY) {
                slots[i].readBack = bdev.allocateBuffer(ioSize, 4096);
            }
        }
    }

    /**
     * Starts the measured phase: fills the queue depth.
     *
     * @param startNanos the {@link System#nanoTime()} the phase starts at (the same for every job of a run)
     * @param events     called with the job's first error as it happens, or null
     */
    public void begin(long startNanos, Consumer<String> events) {
        this.events = events;
        t0 = startNanos;
        end = t0 + durationNanos;
        LIVE_RUNNING.setOpaque(this, true);
        nextDueNanos = startNanos;
        for (Slot s : slots) {
            if (intervalNanos > 0) {
                pace(s);
            } else {
                submit(s);
            }
        }
        releaseDue(System.nanoTime());
    }

    /**
     * One poll of the measured phase: reaps completions (resubmitting from them) and retries I/Os
     * the queue had no room for.
     *
     * @param now {@link System#nanoTime()}
     * @return whether the job still measures; false once the time is up or the device refuses every further I/O
     */
    public boolean poll(long now) {
        reap();
        LIVE_IOS.setOpaque(this, ios);
        LIVE_BYTES.setOpaque(this, bytes);
        if (now - end >= 0 || idleSlots == queueDepth) {
            // time is up, or the device refuses every further I/O: what was measured stands
            elapsedNanos = now - t0;
            measuredIos = ios;
            measuredBytes = bytes;
            stopping = true;
            drainDeadline = now + DRAIN_NANOS;
            LIVE_RUNNING.setOpaque(this, false);
            return false;
        }
        return true;
    }

    /**
     * Reaps completions (resubmitting from them) and retries I/Os the queue had no room for, without
     * looking at the clock; {@link #poll} does this and checks the time.
     */
    public void reap() {
        channel.poll();
        retryDeferred();
        if (intervalNanos > 0) {
            releaseDue(System.nanoTime());
        }
    }

    /**
     * For a job that {@link #waits()}: submits what is due, then waits for completions as the channel's
     * mode says (spinning, or asleep on its completion fd) until the next paced submission is due, or at
     * most {@link #WAIT_STEP_NANOS}.
     */
    public void waitStep(long now) {
        releaseDue(now);
        long timeout = WAIT_STEP_NANOS;
        if (pacedCount > 0) {
            timeout = Math.min(timeout, Math.max(0, nextDueNanos - now));
        }
        channel.waitForCompletions(timeout);
        retryDeferred();
    }

    private void pace(Slot s) {
        paced[(pacedHead + pacedCount++) % queueDepth] = s;
    }

    /** --rate: submits every paced slot whose turn has come. */
    private void releaseDue(long now) {
        if (now - nextDueNanos > intervalNanos * queueDepth) {
            nextDueNanos = now; // far behind (a stall): no burst to catch up
        }
        while (pacedCount > 0 && !stopping && now - nextDueNanos >= 0) {
            Slot s = paced[pacedHead];
            paced[pacedHead] = null;
            pacedHead = (pacedHead + 1) % queueDepth;
            pacedCount--;
            nextDueNanos += intervalNanos;
            s.resubmitNanos = 0;
            submit(s);
        }
    }

    /**
     * One poll after the measured phase, reaping what is still in flight.
     *
     * @return whether I/O is still in flight and the drain deadline has not passed
     */
    public boolean drain(long now) {
        if (channel.inFlight() == 0 || now - drainDeadline >= 0) {
            return false;
        }
        channel.poll();
        return channel.inFlight() > 0;
    }

    /**
     * @param cpuNanos the CPU time charged to this job over the measured phase
     * @return the measurement; an error when I/O is still in flight after the drain
     */
    public PerfResult result(long cpuNanos) {
        String error = firstError == null ? null : firstError.getMessage();
        if (channel.inFlight() > 0) {
            String hung = bdev.name() + ": " + channel.inFlight() + " I/Os not completed by the device "
                    + TimeUnit.NANOSECONDS.toMillis(DRAIN_NANOS) + " ms after the run ended";
            error = error == null ? hung : hung + "; first error: " + error;
        }
        return new PerfResult(bdev.name(), workload, queueDepth, ioSize, measuredIos, measuredBytes, errors, miscompares, elapsedNanos,
                cpuNanos, histogram.copy(), error);
    }

    /** @return I/Os completed in the measured phase (valid after {@link #poll} returned false) */
    public long measuredIos() {
        return measuredIos;
    }

    /** Closes the channel and frees the buffers; safe after a failure at any step, idempotent. */
    public void close() {
        LIVE_RUNNING.setOpaque(this, false);
        if (channel != null) {
            try {
                channel.close();
            } catch (RuntimeException e) {
                // the device is gone: nothing more to give back
            }
            channel = null;
        }
        if (slots != null) {
            for (Slot s : slots) {
                if (s != null && s.buffer != null) {
                    bdev.freeBuffer(s.buffer);
                    s.buffer = null;
                }
                if (s != null && s.readBack != null) {
                    bdev.freeBuffer(s.readBack);
                    s.readBack = null;
                }
            }
        }
    }

    /** @return whether the job is in its measured phase; safe to read from any thread */
    public boolean isRunning() {
        return (boolean) LIVE_RUNNING.getOpaque(this);
    }

    private void retryDeferred() {
        int n = deferredCount;
        if (n == 0 || stopping) {
            return;
        }
        deferredCount = 0;
        for (int i = 0; i < n; i++) {
            Slot s = deferred[i];
            deferred[i] = null;
            submit(s);
        }
    }

    /** @return the bdev this job measures */
    public Bdev bdev() {
        return bdev;
    }

    /** @return I/Os completed so far in the measured phase; safe to read from any thread while the job runs */
    public long liveIos() {
        return (long) LIVE_IOS.getOpaque(this);
    }

    /** @return bytes moved so far in the measured phase; safe to read from any thread while the job runs */
    public long liveBytes() {
        return (long) LIVE_BYTES.getOpaque(this);
    }

    private static void fillPattern(MemorySegment buffer, long seed) {
        for (long off = 0; off + 8 <= buffer.byteSize(); off += 8) {
            buffer.set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, off, off * 31 + seed);
        }
    }

    /** Submits the slot's next I/O; a refusal (the device or its transport is gone) leaves the slot idle. */
    private void submit(Slot s) {
        try {
            submitNext(s);
        } catch (BdevIoException e) {
            idleSlots++; // not an I/O that failed: it never started
            noteError(e);
        }
    }

    private void noteError(VirtioException e) {
        if (firstError == null) {
            firstError = e;
            if (events != null) {
                events.accept(String.format("%6.1f s  %s: %s", (System.nanoTime() - t0) / 1e9, bdev.name(), e.getMessage()));
            }
        }
    }

    private void submitNext(Slot s) {
        long unit;
        if (workload.op() == Workload.Op.VERIFY) {
            // slot k of the job only ever uses units k, k + depth, k + 2*depth, ... of the job's slice
            long perSlot = slotsInRange / queueDepth;
            unit = random.nextLong(perSlot) * queueDepth + s.index;
        } else {
            unit = workload.random() ? random.nextLong(slotsInRange) : nextSequential++ % slotsInRange;
        }
        s.offset = (firstUnit + unit) * ioSize;
        // A slot resubmitted from its completion starts at the clock read that ended its last I/O: one
        // read per I/O, as bdevperf's bdev layer takes one TSC read at submit and one at completion.
        s.startNanos = s.resubmitNanos != 0 ? s.resubmitNanos : System.nanoTime();
        s.resubmitNanos = 0;
        boolean accepted = switch (workload.op()) {
            case DATA -> {
                s.write = readPercent < 100 && (readPercent == 0 || random.nextInt(100) >= readPercent);
                yield s.write ? channel.write(s.buffer, s.offset, this, s) : channel.read(s.buffer, s.offset, this, s);
            }
            case VERIFY -> {
                // a pattern unique to this offset and this pass, so a stale or misplaced block cannot match
                s.seq++;
                fillPattern(s.buffer, s.offset ^ (s.seq << 40));
                s.verifying = false;
                yield channel.write(s.buffer, s.offset, this, s);
            }
            case UNMAP -> channel.unmap(s.offset, ioSize, this, s);
            case FLUSH -> channel.flush(this, s);
            case WRITE_ZEROES -> channel.writeZeroes(s.offset, ioSize, this, s);
        };
        if (!accepted) {
            if (channel.inFlight() == 0) {
                throw new IllegalStateException("channel refused an I/O at depth " + queueDepth + "; raise the channel depth");
            }
            deferred[deferredCount++] = s; // no room now (the ring is shared with other LUNs): retried at the next poll
        }
    }

    @Override
    public void onComplete(Object context, VirtioException error) {
        Slot s = (Slot) context;
        if (error == null && workload.op() == Workload.Op.VERIFY && !s.verifying) {
            s.verifying = true; // the write is in: read it back before this I/O counts
            boolean accepted;
            try {
                accepted = channel.read(s.readBack, s.offset, this, s);
            } catch (BdevIoException e) {
                errors++; // the verify I/O (its write was in) fails as a whole
                idleSlots++;
                noteError(e);
                return;
            }
            if (!accepted) {
                if (channel.inFlight() == 0) {
                    throw new IllegalStateException("channel refused a verify read at depth " + queueDepth);
                }
                s.verifying = false; // no room for the read-back now: the slot starts over with a new write at the next poll
                deferred[deferredCount++] = s;
            }
            return;
        }
        long now = System.nanoTime();
        long lat = now - s.startNanos;
        if (error != null) {
            errors++;
            noteError(error);
        } else if (workload.op() == Workload.Op.VERIFY && s.buffer.mismatch(s.readBack) >= 0) {
            miscompares++;
            errors++;
        } else if (!stopping && !warming) {
            ios++;
            bytes += workload.op() == Workload.Op.FLUSH ? 0 : ioSize;
            histogram.recordValue(Math.min(Math.max(lat, 1), MAX_TRACKED_NANOS));
        }
        if (!stopping) {
            if (intervalNanos > 0) {
                pace(s);
            } else {
                s.resubmitNanos = now;
                submit(s);
            }
        }
    }
}
