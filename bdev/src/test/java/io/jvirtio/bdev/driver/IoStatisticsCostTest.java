package io.jvirtio.bdev.driver;

import io.jvirtio.bdev.IoCallback;
import io.jvirtio.bdev.IoStatistics;
import io.jvirtio.bdev.IoType;
import io.jvirtio.bdev.jfr.BdevStatisticsEvent;
import io.jvirtio.spec.VirtioException;
import jdk.jfr.Configuration;
import jdk.jfr.Recording;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The statistics' cost on the driver layer's own path (take, start, submit, request done, complete,
 * callback) with a "device" that completes at once: per I/O, with the I/O uncounted, counted, and
 * counted while a JFR recording (the JDK's default settings plus every jvirtio event) runs; and
 * the cost of one {@link System#nanoTime()}. Several interleaved rounds; medians printed. Asserts
 * the counts and that counting allocates nothing per I/O, recording or not.
 */
class IoStatisticsCostTest {
    private static final int DEPTH = 32;
    private static final int IOS_PER_ROUND = 2_000_000;
    private static final int ROUNDS = 5;

    static final class Req extends DriverRequest<TestIo> {
        Req(int slot) {
            super(slot);
        }
    }

    /** A queue whose device completes every request as soon as it is submitted (on the next reap). */
    static final class InstantQueue extends DriverRequestQueue<TestIo, Req> implements IoCallback {
        final Req[] ring = new Req[DEPTH];
        int onRing;
        IoSlots<TestIo> slots;
        long bytes;
        int left;

        InstantQueue() {
            super(requests(), DEPTH);
        }

        private static Req[] requests() {
            Req[] r = new Req[DEPTH];
            for (int i = 0; i < DEPTH; i++) {
                r[i] = new Req(i);
            }
            return r;
        }

        @Override
        protected boolean submit(TestIo io, Req request) {
            ring[onRing++] = request;
            io.remaining = 0;
            return true;
        }

        void submitOne() {
            TestIo io = slots.take();
            io.op = IoType.READ;
            io.bytes = bytes;
            io.remaining = 1;
            io.callback = this;
            start(io);
        }

        /** completes what is on the ring; each callback submits the next I/O while any are left */
        void reap() {
            int n = onRing;
            onRing = 0;
            for (int i = 0; i < n; i++) {
                requestDone(ring[i]);
            }
        }

        @Override
        public void onComplete(Object context, VirtioException error) {
            if (--left >= DEPTH) {
                submitOne();
            }
        }

        /** @return nanoseconds for {@code ios} I/Os at queue depth {@link #DEPTH} */
        long run(int ios) {
            left = ios;
            long t0 = System.nanoTime();
            for (int i = 0; i < DEPTH; i++) {
                submitOne();
            }
            while (onRing > 0) {
                reap();
            }
            return System.nanoTime() - t0;
        }
    }

    @Test
    void countingCostsTwoClockReadsAndAllocatesNothing() throws Exception {
        BdevStatisticsEvent.ensureRegistered();
        BdevStatistics stats = new BdevStatistics("cost0");
        InstantQueue counted = new InstantQueue();
        counted.slots = new IoSlots<>("cost0", DEPTH, TestIo::new, stats.openChannel());
        counted.bytes = 4096;
        InstantQueue uncounted = new InstantQueue();
        uncounted.slots = new IoSlots<>("cost1", DEPTH, TestIo::new);
        uncounted.bytes = DriverIo.UNCOUNTED;
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().threadId();

        for (int i = 0; i < 3; i++) { // warm-up: C2 compiles the loop
            counted.run(IOS_PER_ROUND);
            uncounted.run(IOS_PER_ROUND);
        }
        double[] clock = new double[ROUNDS];
        double[] off = new double[ROUNDS];
        double[] on = new double[ROUNDS];
        double[] jfr = new double[ROUNDS];
        long allocOn = 0;
        long allocJfr = 0;
        for (int r = 0; r < ROUNDS; r++) {
            clock[r] = clockNanos();
            off[r] = (double) uncounted.run(IOS_PER_ROUND) / IOS_PER_ROUND;
            long a0 = mx.getThreadAllocatedBytes(tid);
            on[r] = (double) counted.run(IOS_PER_ROUND) / IOS_PER_ROUND;
            allocOn += mx.getThreadAllocatedBytes(tid) - a0;
            try (Recording rec = new Recording(Configuration.getConfiguration("default"))) {
                rec.enable("io.jvirtio.*");
                rec.enable(BdevStatisticsEvent.NAME).withPeriod(Duration.ofMillis(100));
                rec.start();
                long a1 = mx.getThreadAllocatedBytes(tid);
                jfr[r] = (double) counted.run(IOS_PER_ROUND) / IOS_PER_ROUND;
                allocJfr += mx.getThreadAllocatedBytes(tid) - a1;
                rec.stop();
            }
        }
        long ios = (long) ROUNDS * IOS_PER_ROUND;
        System.out.printf("driver-layer I/O, QD%d, medians of %d rounds of %d I/Os: uncounted %.1f ns/I/O, counted %.1f ns/I/O,"
                        + " counted + JFR recording %.1f ns/I/O; System.nanoTime %.1f ns; allocated per I/O: %.4f B counted, %.4f B recording%n",
                DEPTH, ROUNDS, IOS_PER_ROUND, median(off), median(on), median(jfr), median(clock),
                (double) allocOn / ios, (double) allocJfr / ios);
        System.out.printf("fastest rounds: uncounted %.1f, counted %.1f, counted + JFR %.1f ns/I/O%n", min(off), min(on), min(jfr));
        System.out.println("rounds uncounted " + Arrays.toString(off) + " counted " + Arrays.toString(on) + " jfr " + Arrays.toString(jfr)
                + " clock " + Arrays.toString(clock));

        IoStatistics s = stats.snapshot();
        assertEquals((3L + 2 * ROUNDS) * IOS_PER_ROUND, s.read().ops());
        assertEquals(s.read().ops() * 4096, s.read().bytes());
        assertTrue((double) allocOn / ios < 0.01, "counting allocates nothing per I/O: " + allocOn + " B");
        assertTrue((double) allocJfr / ios < 0.01, "nothing per I/O while recording: " + allocJfr + " B");
        stats.close();
    }

    private static double clockNanos() {
        int n = 10_000_000;
        long sink = 0;
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            sink += System.nanoTime();
        }
        long t = System.nanoTime() - t0;
        assertNotEquals(42, sink);
        return (double) t / n;
    }

    private static double min(double[] v) {
        return Arrays.stream(v).min().orElseThrow();
    }

    private static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }
}
