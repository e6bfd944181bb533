package io.jvirtio.core.ring;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packed ring's hot path allocates nothing. The simulated device runs on its own thread, so its (allocating) work
 * is not charged to the driver thread, whose allocation counter is read around a warm loop of
 * reqStart / reqAddIov / reqFlush / poll.
 */
class PackedVirtqueueAllocationTest {
    private static final int SIZE = 64;
    private static final int DEPTH = 16;
    private static final int OPS = 50_000;
    private static final int WARMUPS = 3;
    private static final int ATTEMPTS = 5;
    private static final long ALLOWED_BYTES = 1024; // for OPS requests: < 0.03 byte per request
    private static final long DEADLINE_NANOS = 60_000_000_000L;

    @ParameterizedTest(name = "maxIndirect {0}, eventIdx {1}, device wants kicks {2}")
    @CsvSource({"0,false,true", "4,false,false", "0,true,false", "4,true,true"})
    void hotPathAllocatesNothing(int maxIndirect, boolean eventIdx, boolean kicks) {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assertTrue(threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled());
        try (PackedTestRing ring = new PackedTestRing(SIZE, maxIndirect, eventIdx)) {
            ring.device.notificationsWanted(kicks);
            ring.device.start();
            MemorySegment header = ring.buffer(16);
            MemorySegment data = ring.buffer(4096);
            MemorySegment status = ring.buffer(1);
            Object[] cookies = new Object[SIZE];
            for (int i = 0; i < SIZE; i++) {
                cookies[i] = "req" + i;
            }
            CountingSink sink = new CountingSink();
            int runs = 0;
            for (int i = 0; i < WARMUPS; i++, runs++) {
                run(ring.vq, sink, cookies, header, data, status);
            }
            long best = Long.MAX_VALUE;
            for (int attempt = 0; attempt < ATTEMPTS && best > ALLOWED_BYTES; attempt++, runs++) {
                long before = threads.getCurrentThreadAllocatedBytes();
                run(ring.vq, sink, cookies, header, data, status);
                long after = threads.getCurrentThreadAllocatedBytes();
                best = Math.min(best, after - before);
            }
            assertTrue(best <= ALLOWED_BYTES, "driver allocated " + best + " bytes for " + OPS + " requests ("
                    + (double) best / OPS + " per request)");
            assertEquals((long) runs * OPS, sink.used);
            assertEquals(0, sink.errors);
            assertEquals(sink.used * 16, sink.bytes, "echo of the 16-byte header into the data buffer");
            assertFalse(ring.vq.isBroken());
            if (kicks) {
                assertTrue(ring.device.notifications() > 0);
            } else {
                assertEquals(0, ring.device.notifications(), "a polling device is never kicked");
            }
        }
    }

    /** OPS requests, DEPTH in flight: header (readable), data + status (writable), flushed one by one. */
    private static void run(PackedVirtqueue vq, CountingSink sink, Object[] cookies,
                            MemorySegment header, MemorySegment data, MemorySegment status) {
        long target = sink.used + OPS;
        long deadline = System.nanoTime() + DEADLINE_NANOS;
        for (int i = 0; i < OPS; i++) {
            while (vq.inFlight() >= DEPTH) {
                if (vq.poll(DEPTH, sink) == 0) {
                    Thread.yield();
                    checkDeadline(deadline, vq);
                }
            }
            if (!vq.reqStart(cookies[i & (SIZE - 1)], 3)) {
                throw new AssertionError("queue full at depth " + vq.inFlight());
            }
            vq.reqAddIov(header.address(), 16, false);
            vq.reqAddIov(data.address(), 4096, true);
            vq.reqAddIov(status.address(), 1, true);
            vq.reqFlush();
            vq.poll(DEPTH, sink);
        }
        while (sink.used < target) {
            if (vq.poll(DEPTH, sink) == 0) {
                Thread.yield();
                checkDeadline(deadline, vq);
            }
        }
    }

    /** Allocates only when it fails: a stuck device fails the test instead of hanging it. */
    private static void checkDeadline(long deadline, PackedVirtqueue vq) {
        if (System.nanoTime() - deadline > 0) {
            throw new AssertionError("device stopped completing: " + vq);
        }
    }
}
