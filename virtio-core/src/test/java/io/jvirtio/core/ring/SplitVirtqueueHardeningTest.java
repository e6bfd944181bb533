package io.jvirtio.core.ring;

import io.jvirtio.spec.VirtioException;
import io.jvirtio.core.ring.SimulatedDevice.Fault;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A device that breaks the ring's rules: the queue breaks cleanly, everything in flight fails, nothing escapes. */
class SplitVirtqueueHardeningTest {
    private static final int SIZE = 16;
    private static final String LABEL = "virtqueue blk0-q0 (index 0)";

    @Test
    void idOutOfRange() {
        try (TestRing ring = ring(0)) {
            submit(ring, 4);
            ring.device.injectFault(Fault.ID_OUT_OF_RANGE, 4711);
            ring.device.process(1);
            RecordingSink sink = pollExpectingBreak(ring, 4);
            String expected = LABEL + ": used element 0 has id 4711, out of range (queue size 16)";
            assertAllFailed(ring, sink, RingViolation.ID_OUT_OF_RANGE, expected, "r0", "r1", "r2", "r3");
        }
    }

    @Test
    void idOutOfRangeAsUnsigned() {
        try (TestRing ring = ring(4)) {
            submit(ring, 2);
            ring.device.injectFault(Fault.ID_OUT_OF_RANGE, 0xFFFF_FFFFL);
            ring.device.process(1);
            RecordingSink sink = pollExpectingBreak(ring, 2);
            assertAllFailed(ring, sink, RingViolation.ID_OUT_OF_RANGE,
                    LABEL + ": used element 0 has id 4294967295, out of range (queue size 16)", "r0", "r1");
        }
    }

    @Test
    void repeatedIdIsNotInFlight() {
        try (TestRing ring = ring(0)) {
            submit(ring, 4);
            ring.device.injectFault(Fault.ID_NOT_IN_FLIGHT);
            ring.device.process(1); // completes r0, then names r0's head again
            RecordingSink sink = pollExpectingBreak(ring, 4);
            assertEquals(List.of("r0"), sink.completed, "the good completion before the bad one is delivered");
            assertAllFailed(ring, sink, RingViolation.ID_NOT_IN_FLIGHT, LABEL + ": used element 1 has id 0, which is not"
                    + " the head of a request in flight", "r1", "r2", "r3");
        }
    }

    @Test
    void chainMemberIsNotInFlight() {
        try (TestRing ring = ring(0)) {
            submit(ring, 2); // direct two-descriptor chains: descriptor 1 belongs to r0 but is not a head
            int member = ring.availHead(0) + 1;
            ring.device.injectFault(Fault.ID_OUT_OF_RANGE, member);
            ring.device.process(1);
            RecordingSink sink = pollExpectingBreak(ring, 2);
            assertAllFailed(ring, sink, RingViolation.ID_NOT_IN_FLIGHT, LABEL + ": used element 0 has id " + member
                    + ", which is not the head of a request in flight", "r0", "r1");
        }
    }

    @Test
    void unpublishedHeadIsNotInFlightAndUnpublishedRequestsFailToo() {
        try (TestRing ring = ring(4)) {
            MemorySegment buf = ring.buffer(8);
            submit(ring, 2);
            assertTrue(ring.vq.reqStart("queued", 1));
            ring.vq.reqAddIov(buf.address(), 8, true);
            assertTrue(ring.vq.reqStart("building", 1));
            int queuedHead = ring.availHead(2); // in the avail ring, but avail.idx has not moved past it
            ring.device.injectFault(Fault.ID_OUT_OF_RANGE, queuedHead);
            ring.device.process(1);
            RecordingSink sink = pollExpectingBreak(ring, 4);
            assertAllFailed(ring, sink, RingViolation.ID_NOT_IN_FLIGHT, LABEL + ": used element 0 has id " + queuedHead
                    + ", which is not the head of a request in flight", "r0", "r1", "queued", "building");
            VirtioException addAfterBreak = assertThrows(VirtioException.class, () -> ring.vq.reqAddIov(buf.address(), 8, true));
            assertTrue(addAfterBreak.getMessage().contains("is broken"), addAfterBreak.getMessage());
            assertDoesNotThrow(ring.vq::reqFlush, "nothing left to publish");
            assertEquals(2, ring.vq.availIndex(), "the broken queue published nothing more");
        }
    }

    @ParameterizedTest(name = "maxIndirect {0}")
    @CsvSource({"0", "4"})
    void lenLargerThanWritable(int maxIndirect) {
        try (TestRing ring = ring(maxIndirect)) {
            submit(ring, 3);
            ring.device.injectFault(Fault.LEN_TOO_LARGE);
            ring.device.process(1);
            RecordingSink sink = pollExpectingBreak(ring, 3);
            assertAllFailed(ring, sink, RingViolation.LEN_TOO_LARGE, LABEL + ": used element 0 (id " + ring.availHead(0)
                    + ") has len 9, more than the 8 bytes posted (4 writable)", "r0", "r1", "r2");
        }
    }

    /** QEMU's virtio-scsi counts a write's data-out bytes in len: within the request's buffers it is capped, not fatal. */
    @ParameterizedTest(name = "maxIndirect {0}")
    @CsvSource({"0", "4"})
    void lenPastTheWritableBytesButWithinTheRequestIsCapped(int maxIndirect) {
        try (TestRing ring = ring(maxIndirect)) {
            submit(ring, 2);
            ring.device.injectFault(Fault.LEN_TOO_LARGE, 8);
            ring.device.process();
            RecordingSink sink = new RecordingSink();
            assertEquals(2, ring.vq.poll(16, sink));
            assertFalse(ring.vq.isBroken());
            assertEquals(List.of(4, 4), sink.lengths);
            assertEquals(1, ring.vq.overlongUsedLengths(), "the fault hits the first element only");
            submit(ring, 1, "s");
            ring.device.process();
            assertEquals(1, ring.vq.poll(16, sink));
            assertEquals(1, ring.vq.overlongUsedLengths(), "an exact len is not counted");
        }
    }

    @Test
    void lenOnARequestWithoutWritableBuffers() {
        try (TestRing ring = ring(0)) {
            MemorySegment buf = ring.buffer(8);
            assertTrue(ring.vq.reqStart("write-only", 1));
            ring.vq.reqAddIov(buf.address(), 8, false);
            ring.vq.reqFlush();
            ring.device.injectFault(Fault.LEN_TOO_LARGE, 0xFFFF_FFFFL);
            ring.device.process();
            RecordingSink sink = pollExpectingBreak(ring, 1);
            assertAllFailed(ring, sink, RingViolation.LEN_TOO_LARGE, LABEL + ": used element 0 (id 0) has len 4294967295,"
                    + " more than the 8 bytes posted (0 writable)", "write-only");
        }
    }

    @Test
    void usedIndexJumpingAhead() {
        try (TestRing ring = ring(0)) {
            submit(ring, 4);
            ring.device.injectFault(Fault.USED_INDEX_JUMP);
            ring.device.process(1);
            RecordingSink sink = pollExpectingBreak(ring, 4);
            assertTrue(sink.completed.isEmpty(), "nothing is trusted from a ring whose index jumped");
            assertAllFailed(ring, sink, RingViolation.USED_INDEX_JUMP, LABEL + ": used idx moved from 0 to 18 (18 new"
                    + " elements), more than the 4 requests in flight", "r0", "r1", "r2", "r3");
        }
    }

    @Test
    void usedIndexGoingBackwards() {
        try (TestRing ring = ring(4)) {
            submit(ring, 4);
            ring.device.process(2);
            RecordingSink first = new RecordingSink();
            assertEquals(2, ring.vq.poll(16, first));
            ring.device.injectFault(Fault.USED_INDEX_JUMP, 65534); // 3 + 65534 = 1 (mod 2^16): behind our 2
            ring.device.process(1);
            RecordingSink sink = pollExpectingBreak(ring, 2);
            assertAllFailed(ring, sink, RingViolation.USED_INDEX_JUMP, LABEL + ": used idx moved from 2 to 1 (65535 new"
                    + " elements), more than the 2 requests in flight", "r2", "r3");
        }
    }

    @ParameterizedTest(name = "maxIndirect {0}")
    @CsvSource({"0", "4"})
    void scribbledDescriptorTableDoesNotMatter(int maxIndirect) {
        try (TestRing ring = ring(maxIndirect)) {
            RecordingSink sink = new RecordingSink();
            for (int round = 0; round < 5; round++) {
                submit(ring, 5, "round" + round + "-");
                ring.device.injectFault(Fault.SCRIBBLE_DESCRIPTORS);
                ring.device.process();
                assertEquals(5, ring.vq.poll(16, sink));
                assertEquals(SIZE, ring.vq.freeDescriptors());
            }
            assertEquals(25, sink.completed.size());
            assertTrue(sink.lengths.stream().allMatch(len -> len == 4));
            assertFalse(ring.vq.isBroken());
        }
    }

    @Test
    void stalledDeviceNeverHangsPoll() {
        try (TestRing ring = ring(0)) {
            submit(ring, 3);
            ring.device.injectFault(Fault.STALL);
            RecordingSink sink = new RecordingSink();
            for (int i = 0; i < 10_000; i++) {
                ring.device.process();
                assertEquals(0, ring.vq.poll(16, sink));
            }
            assertEquals(3, ring.vq.inFlight());
            assertFalse(ring.vq.isBroken());
        }
    }

    @Test
    void brokenQueueRecoversAfterFailAll() {
        try (TestRing ring = ring(0)) {
            submit(ring, 2);
            ring.device.injectFault(Fault.ID_OUT_OF_RANGE);
            ring.device.process();
            pollExpectingBreak(ring, 2);
            RecordingSink sink = new RecordingSink();
            assertEquals(0, ring.vq.failAll(new VirtioException("reset"), sink), "already failed when it broke");
            assertFalse(ring.vq.isBroken());
            ring.device.resume(ring.vq.availIndex());
            submit(ring, 2, "again");
            ring.device.process();
            assertEquals(2, ring.vq.poll(16, sink));
            assertEquals(List.of("again0", "again1"), sink.completed);
        }
    }

    @Test
    void callbacksMayResubmitButNotPoll() {
        try (TestRing ring = ring(0)) {
            MemorySegment buf = ring.buffer(8);
            submit(ring, 2);
            ring.device.process();
            int[] resubmitted = {0};
            UsedSink resubmitting = new UsedSink() {
                @Override
                public void onUsed(Object cookie, int len) {
                    assertThrows(IllegalStateException.class, () -> ring.vq.poll(1, this));
                    assertTrue(ring.vq.reqStart("again" + resubmitted[0]++, 1));
                    ring.vq.reqAddIov(buf.address(), 8, true);
                    ring.vq.reqFlush();
                }

                @Override
                public void onError(Object cookie, VirtioException error) {
                    throw new AssertionError(error);
                }
            };
            assertEquals(2, ring.vq.poll(16, resubmitting));
            assertEquals(2, ring.vq.inFlight());
            ring.device.process();
            RecordingSink sink = new RecordingSink();
            assertEquals(2, ring.vq.poll(16, sink));
            assertEquals(List.of("again0", "again1"), sink.completed);
        }
    }

    private static TestRing ring(int maxIndirect) {
        return new TestRing("blk0-q0", SIZE, maxIndirect, false);
    }

    private static void submit(TestRing ring, int count) {
        submit(ring, count, "r");
    }

    /** {@code count} requests named prefix0.., each a 4-byte readable then a 4-byte writable buffer. */
    private static void submit(TestRing ring, int count, String prefix) {
        MemorySegment buf = ring.buffer(8);
        for (int i = 0; i < count; i++) {
            assertTrue(ring.vq.reqStart(prefix + i, 2));
            ring.vq.reqAddIov(buf.address(), 4, false);
            ring.vq.reqAddIov(buf.address() + 4, 4, true);
        }
        ring.vq.reqFlush();
    }

    private static RecordingSink pollExpectingBreak(TestRing ring, int expectedDelivered) {
        RecordingSink sink = new RecordingSink();
        int delivered = assertDoesNotThrow(() -> ring.vq.poll(16, sink));
        assertEquals(expectedDelivered, delivered);
        assertTrue(ring.vq.isBroken());
        return sink;
    }

    private static void assertAllFailed(TestRing ring, RecordingSink sink, RingViolation violation, String message,
                                        String... cookies) {
        assertEquals(Stream.of(cookies).sorted().toList(), sink.failed.keySet().stream().map(String.class::cast).sorted().toList());
        RingViolationException first = null;
        for (VirtioException e : sink.failed.values()) {
            RingViolationException rv = assertInstanceOf(RingViolationException.class, e);
            assertEquals(violation, rv.violation());
            assertEquals(message, rv.getMessage());
            if (first == null) {
                first = rv;
            }
            assertSame(first, rv, "one violation, shared by every failed request");
        }
        assertEquals(message, ring.vq.brokenReason());
        assertEquals(0, ring.vq.inFlight());
        assertEquals(SIZE, ring.vq.freeDescriptors());
        VirtioException thrown = assertThrows(VirtioException.class, () -> ring.vq.reqStart("late", 1));
        assertEquals(LABEL + " is broken: " + message.substring(LABEL.length() + 2), thrown.getMessage());
        assertEquals(violation, assertInstanceOf(RingViolationException.class, thrown).violation());
        ring.device.injectFault(Fault.NONE);
        assertEquals(0, assertDoesNotThrow(() -> ring.vq.poll(16, new RecordingSink())), "a broken queue delivers nothing more");
    }
}
