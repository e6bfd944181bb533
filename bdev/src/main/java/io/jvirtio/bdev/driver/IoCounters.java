package io.jvirtio.bdev.driver;

import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.bdev.IoType;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One channel's I/O counters (SPDK's per-channel {@code spdk_bdev_io_stat}): written by the
 * channel's thread alone, on completion, without locks or allocation; read by any thread through
 * {@link BdevStatistics}. The counters sit in one {@code long[]} padded by {@value #PAD} longs on
 * either side, so no other object's hot fields share their cache lines; the writer stores with
 * opaque semantics (a plain store on x86 and ARM, never torn), the op count last with release, and
 * readers load the op count first, everything with acquire.
 */
public final class IoCounters {
    /** longs of padding before and after the counters: two 64-byte lines (adjacent-line prefetch) */
    static final int PAD = 16;
    static final int BYTES = 0;
    static final int OPS = 1;
    static final int LATENCY = 2;
    static final int MAX = 3;
    static final int MIN = 4;
    static final int PER_TYPE = 5;
    private static final IoType[] TYPES = IoType.values();
    private static final Reason[] REASONS = Reason.values();
    static final int ERRORS = PAD + TYPES.length * PER_TYPE;
    static final int LENGTH = ERRORS + REASONS.length + PAD;
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);

    private final long[] slots = new long[LENGTH];
    /**
     * the clock read at the completion whose callback is running on the owner thread, 0 outside
     * callbacks: an I/O the callback submits on this channel starts at that reading instead of
     * reading the clock again (one {@link System#nanoTime()} per I/O instead of two). Owner thread only.
     */
    long callbackClock;
    final BdevStatistics owner;
    /** the thread that opened the channel */
    final long threadId;
    final String threadName;

    IoCounters(BdevStatistics owner) {
        this.owner = owner;
        Thread opener = Thread.currentThread();
        this.threadId = opener.threadId();
        this.threadName = opener.getName();
        for (int t = 0; t < TYPES.length; t++) {
            slots[PAD + t * PER_TYPE + MIN] = Long.MAX_VALUE;
        }
    }

    /** @return counters that belong to no bdev (a channel built without statistics, tests) */
    public static IoCounters detached() {
        return new IoCounters(null);
    }

    /**
     * Counts one successful I/O. The owning thread only.
     *
     * @param type         its type
     * @param bytes        bytes it carried (the range for unmap and write-zeroes)
     * @param latencyTicks submission to completion, in nanoseconds
     */
    public void success(IoType type, long bytes, long latencyTicks) {
        long[] s = slots;
        int b = PAD + type.ordinal() * PER_TYPE;
        SLOT.setOpaque(s, b + BYTES, s[b + BYTES] + bytes);
        SLOT.setOpaque(s, b + LATENCY, s[b + LATENCY] + latencyTicks);
        if (latencyTicks > s[b + MAX]) {
            SLOT.setOpaque(s, b + MAX, latencyTicks);
        }
        if (latencyTicks < s[b + MIN]) {
            SLOT.setOpaque(s, b + MIN, latencyTicks);
        }
        // last, with release: a reader that sees the op count sees its bytes, latency, min and max
        SLOT.setRelease(s, b + OPS, s[b + OPS] + 1);
    }

    /** Counts one failed I/O. The owning thread only. */
    public void error(Reason reason) {
        int i = ERRORS + reason.ordinal();
        SLOT.setOpaque(slots, i, slots[i] + 1);
    }

    /** Adds these counters into {@code sum} (a {@link #LENGTH} array laid out as this one); any thread. */
    void addTo(long[] sum) {
        for (int t = 0; t < TYPES.length; t++) {
            int b = PAD + t * PER_TYPE;
            sum[b + OPS] += (long) SLOT.getAcquire(slots, b + OPS); // first: see success()
            sum[b + BYTES] += (long) SLOT.getAcquire(slots, b + BYTES);
            sum[b + LATENCY] += (long) SLOT.getAcquire(slots, b + LATENCY);
            sum[b + MAX] = Math.max(sum[b + MAX], (long) SLOT.getAcquire(slots, b + MAX));
            sum[b + MIN] = Math.min(sum[b + MIN], (long) SLOT.getAcquire(slots, b + MIN));
        }
        for (int r = 0; r < REASONS.length; r++) {
            sum[ERRORS + r] += (long) SLOT.getAcquire(slots, ERRORS + r);
        }
    }

    /** @return an empty sum array: zeros, each minimum at {@link Long#MAX_VALUE} */
    static long[] emptySum() {
        long[] sum = new long[LENGTH];
        for (int t = 0; t < TYPES.length; t++) {
            sum[PAD + t * PER_TYPE + MIN] = Long.MAX_VALUE;
        }
        return sum;
    }

    static IoType[] types() {
        return TYPES;
    }

    static Reason[] reasons() {
        return REASONS;
    }
}
