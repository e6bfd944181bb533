package io.jvirtio.scsi;

import io.jvirtio.bdev.IoCallback;
import io.jvirtio.bdev.IoChannel;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.core.mem.HugePagePolicy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.fail;

/** Patterns, comparisons, options and waiting helpers shared by the scsi tests. */
final class ScsiTestSupport {
    private ScsiTestSupport() {
    }

    /** Small queues and memory, no hugepages: many controllers per test JVM. */
    static VirtioScsiOptions testOptions() {
        return VirtioScsiOptions.defaults().withHugePages(HugePagePolicy.NEVER).withQueueSize(128).withMemoryBytes(16L << 20)
                .withCommandTimeout(Duration.ofSeconds(5));
    }

    static void fill(MemorySegment seg, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        long n = seg.byteSize();
        long i = 0;
        for (; i + 8 <= n; i += 8) {
            seg.set(ValueLayout.JAVA_LONG_UNALIGNED, i, r.nextLong());
        }
        for (; i < n; i++) {
            seg.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt());
        }
    }

    static byte[] bytes(MemorySegment seg) {
        return seg.toArray(ValueLayout.JAVA_BYTE);
    }

    static void assertSameBytes(MemorySegment expected, MemorySegment actual, String what) {
        long m = expected.mismatch(actual);
        if (m >= 0) {
            fail(what + ": first difference at byte " + m + (m < Math.min(expected.byteSize(), actual.byteSize())
                    ? ": 0x" + Integer.toHexString(actual.get(ValueLayout.JAVA_BYTE, m) & 0xff) + ", expected 0x"
                    + Integer.toHexString(expected.get(ValueLayout.JAVA_BYTE, m) & 0xff)
                    : " (sizes " + actual.byteSize() + " and " + expected.byteSize() + ")"));
        }
    }

    static boolean allZero(MemorySegment seg) {
        for (long i = 0; i < seg.byteSize(); i++) {
            if (seg.get(ValueLayout.JAVA_BYTE, i) != 0) {
                return false;
            }
        }
        return true;
    }

    /** Polls until {@code done} or fails after {@code timeout}. */
    static void await(String what, Duration timeout, Runnable poll, BooleanSupplier done) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!done.getAsBoolean()) {
            poll.run();
            if (System.nanoTime() - deadline > 0) {
                fail("timed out waiting for " + what);
            }
            Thread.onSpinWait();
        }
    }

    /** One asynchronous I/O's outcome. */
    static class Outcome implements IoCallback {
        volatile boolean done;
        volatile VirtioException error;
        volatile Thread thread;

        @Override
        public void onComplete(Object context, VirtioException e) {
            error = e;
            thread = Thread.currentThread();
            done = true;
        }

        void await(IoChannel ch, Duration timeout) {
            ScsiTestSupport.await("an I/O on " + ch.bdev().name(), timeout, ch::poll, () -> done);
        }
    }
}
