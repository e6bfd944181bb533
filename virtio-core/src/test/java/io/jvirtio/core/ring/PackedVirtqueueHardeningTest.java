package io.jvirtio.core.ring;

import io.jvirtio.core.ring.SimulatedPackedDevice.Fault;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.spec.ring.PackedRingLayout;
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

/**
 * Every malicious case of {@link SplitVirtqueueHardeningTest}, in packed form, and the packed ring's own
 * (a flag pattern the device cannot have written): the queue breaks cleanly, everything in flight fails,
 * nothing escapes, nothing is read out of bounds.
 */
class PackedVirtqueueHardeningTest {
    private static final int SIZE = 16;
    private static final String LABEL = "packed virtqueue blk0-q0 (index 0)";

    @Test
    void idOutOfRange() {
        try (PackedTestRing ring = ring(0)) {
            submit(ring, 4);
            ring.device.injectFault(Fault.ID_OUT_OF_RANGE, 4711);
            ring.device.process(1);
            RecordingSink sink = pollExpectingBreak(ring, 4);
            assertAllFailed(ring, sink, RingViolation.ID_OUT_OF_RANGE,
                    LABEL + ": used descriptor in slot 0 has buffer id 4711, out of range (queue size 16)", "r0", "r1", "r2", "r3");
        }
    }

    @Test
    void idOutOfRangeAtTheTopOfSixteenBits() {
        try (PackedTestRing ring = ring(4)) {
            submit(ring, 2);
            ring.device.injectFault(Fault.ID_OUT_OF_RANGE, 0xFFFF);
            ring.device.process(1);
            RecordingSink sink = pollExpectingBreak(ring, 2);
            assertAllFailed(ring, sink, RingViolation.ID_OUT_OF_RANGE,
                    LABEL + ": used descriptor in slot 0 has buffer id 65535, out of range (queue size 16)", "r0", "r1");
        }
    }

    @Test
    void repeatedIdIsNotInFlight() {
        try (PackedTestRing ring = ring(0)) {
            submit(ring, 4);
            ring.device.injectFault(Fault.ID_NOT_IN_FLIGHT);
            ring.device.process(1); // completes r0 (slots 0-1), then names r0's id again in slot 2
            RecordingSink sink = pollExpectingBreak(ring, 4);
            assertEquals(List.of("r0"), sink.completed, "the good completion before the bad one is delivered");
            assertAllFailed(ring, sink, RingViolation.ID_NOT_IN_FLIGHT, LABEL + ": used descriptor in slot 2 has buffer id 0,"
                    + " which is not a request in flight", "r1", "r2", "r3");
        }
    }

    @Test
    void chainEntryIsNotABufferId() {
        try (PackedTestRing ring = ring(0)) {
            submit(ring, 2); // direct two-descriptor chains: r0 holds entries 0 (its id) and 1, r1 entries 2 and 3
            ring.device.injectFault(Fault.ID_OUT_OF_RANGE, 1);
            ring.device.process(1);
            RecordingSink sink = pollExpectingBreak(ring, 2);
            assertAllFailed(ring, sink, RingViolation.ID_NOT_IN_FLIGHT, LABEL + ": used descriptor in slot 0 has buffer id 1,"
                    + " which is not a request in flight", "r0", "r1");
        }
    }

    @Test
    void freeIdIsNotInFlight() {
        try (PackedTestRing ring = ring(0)) {
            submit(ring, 2); // ids 0 and 1; id 5 was never handed out
            ring.device.injectFault(Fault.ID_OUT_OF_RANGE, 5);
            ring.device.process(1);
            RecordingSink sink = pollExpectingBreak(ring, 2);
            assertAllFailed(ring, sink, RingViolation.ID_NOT_IN_FLIGHT, LABEL + ": used descriptor in slot 0 has buffer id 5,"
                    + " which is not a request in flight", "r0", "r1");
        }
    }

    @Test
    void unpublishedIdIsNotInFlightAndUnpublishedRequestsFailToo() {
        try (PackedTestRing ring = ring(4)) {
            MemorySegment buf = ring.buffer(8);
            submit(ring, 2);
            assertTrue(ring.vq.reqStart("queued", 1));
            ring.vq.reqAddIov(buf.address(), 8, true);
            assertTrue(ring.vq.reqStart("building", 1));
            int queuedId = ring.descId(2); // written in its slot, its head not yet available
            ring.device.injectFault(Fault.ID_OUT_OF_RANGE, queuedId);
            ring.device.process(1);
            RecordingSink sink = pollExpectingBreak(ring, 4);
            assertAllFailed(ring, sink, RingViolation.ID_NOT_IN_FLIGHT, LABEL + ": used descriptor in slot 0 has buffer id "
                    + queuedId + ", which is not a request in flight", "r0", "r1", "queued", "building");
            VirtioException addAfterBreak = assertThrows(VirtioException.class, () -> ring.vq.reqAddIov(buf.address(), 8, true));
            assertTrue(addAfterBreak.getMessage().contains("is broken"), addAfterBreak.getMessage());
            assertDoesNotThrow(ring.vq::reqFlush, "nothing left to publish");
            assertEquals(PackedRingLayout.offWrap(2, true), ring.vq.availIndex(), "the broken queue published nothing more");
            assertEquals(1, ring.device.process(), "r1 was published before the break; the dropped requests' slots are not available");
        }
    }

    @ParameterizedTest(name = "maxIndirect {0}")
    @CsvSource({"0", "4"})
    void lenLargerThanPosted(int maxIndirect) {
        try (PackedTestRing ring = ring(maxIndirect)) {
            submit(ring, 3);
            ring.device.injectFault(Fault.LEN_TOO_LARGE);
            ring.device.process(1);
            RecordingSink sink = pollExpectingBreak(ring, 3);
            assertAllFailed(ring, sink, RingViolation.LEN_TOO_LARGE, LABEL + ": used descriptor in slot 0 (id 0)"
                    + " has len 9, more than the 8 bytes posted (4 writable)", "r0", "r1", "r2");
        }
    }

    @ParameterizedTest(name = "maxIndirect {0}")
    @CsvSource({"0", "4"})
    void lenPastTheWritableBytesButWithinTheRequestIsCapped(int maxIndirect) {
        try (PackedTestRing ring = ring(maxIndirect)) {
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
        try (PackedTestRing ring = ring(0)) {
            MemorySegment buf = ring.buffer(8);
            assertTrue(ring.vq.reqStart("write-only", 1));
            ring.vq.reqAddIov(buf.address(), 8, false);
            ring.vq.reqFlush();
            ring.device.injectFault(Fault.LEN_TOO_LARGE, 0xFFFF_FFFFL);
            ring.device.process();
            RecordingSink sink = pollExpectingBreak(ring, 1);
            assertAllFailed(ring, sink, RingViolation.LEN_TOO_LARGE, LABEL + ": used descriptor in slot 0 (id 0) has len 4294967295,"
                    + " more than the 8 bytes posted (0 writable)", "write-only");
        }
    }

    /** The packed form of a used index jump: one more used descriptor than requests in flight. */
    @Test
    void usedDescriptorWithNothingInFlight() {
        try (PackedTestRing ring = ring(0)) {
            submit(ring, 4);
            ring.device.injectFault(Fault.USED_INDEX_JUMP);
            ring.device.process();
            RecordingSink sink = pollExpectingBreak(ring, 4);
            assertEquals(List.of("r0", "r1", "r2", "r3"), sink.completed);
            assertAllFailed(ring, sink, RingViolation.USED_INDEX_JUMP, LABEL + ": slot 8 (wrap 1) is marked used,"
                    + " but no request is in flight");
        }
    }

    /** With requests still in flight, the extra used descriptor names a finished id. */
    @Test
    void usedDescriptorBeyondTheRequestsInFlight() {
        try (PackedTestRing ring = ring(4)) {
            submit(ring, 4);
            ring.device.injectFault(Fault.USED_INDEX_JUMP);
            ring.device.process(2);
            RecordingSink sink = pollExpectingBreak(ring, 4);
            assertEquals(List.of("r0", "r1"), sink.completed);
            assertAllFailed(ring, sink, RingViolation.ID_NOT_IN_FLIGHT, LABEL + ": used descriptor in slot 2 has buffer id 1,"
                    + " which is not a request in flight", "r2", "r3");
        }
    }

    @ParameterizedTest(name = "pattern {0}")
    @CsvSource({"0,0x0", "1,0x8000"})
    void usedFlagsOfTheWrongLap(int pattern, String flags) {
        try (PackedTestRing ring = ring(0)) {
            submit(ring, 3);
            ring.device.injectFault(Fault.USED_FLAGS_INVALID, pattern);
            ring.device.process(1);
            RecordingSink sink = pollExpectingBreak(ring, 3);
            assertTrue(sink.completed.isEmpty());
            assertAllFailed(ring, sink, RingViolation.USED_FLAGS_INVALID, LABEL + ": slot 0 (wrap 1) has flags " + flags
                    + ": neither available nor used in this lap", "r0", "r1", "r2");
        }
    }

    @Test
    void wrongLapAfterTheRingWrapped() {
        try (PackedTestRing ring = ring(0)) {
            RecordingSink good = new RecordingSink();
            submit(ring, 7, "first"); // 14 slots
            ring.device.process();
            assertEquals(7, ring.vq.poll(16, good));
            submit(ring, 3); // slots 14, 15 then 0..3 in the second lap (wrap 0)
            ring.device.process(1);
            assertEquals(1, ring.vq.poll(16, good));
            ring.device.injectFault(Fault.USED_FLAGS_INVALID);
            ring.device.process(1);
            RecordingSink sink = pollExpectingBreak(ring, 2);
            assertAllFailed(ring, sink, RingViolation.USED_FLAGS_INVALID, LABEL + ": slot 0 (wrap 0) has flags 0x8080:"
                    + " neither available nor used in this lap", "r1", "r2");
        }
    }

    @ParameterizedTest(name = "maxIndirect {0}")
    @CsvSource({"0", "4"})
    void scribbledDescriptorsDoNotMatter(int maxIndirect) {
        try (PackedTestRing ring = ring(maxIndirect)) {
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
        try (PackedTestRing ring = ring(0)) {
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
        try (PackedTestRing ring = ring(0)) {
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
        try (PackedTestRing ring = ring(0)) {
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

    private static PackedTestRing ring(int maxIndirect) {
        return new PackedTestRing("blk0-q0", SIZE, maxIndirect, false);
    }

    private static void submit(PackedTestRing ring, int count) {
        submit(ring, count, "r");
    }

    /** {@code count} requests named prefix0.., each a 4-byte readable then a 4-byte writable buffer. */
    private static void submit(PackedTestRing ring, int count, String prefix) {
        MemorySegment buf = ring.buffer(8);
        for (int i = 0; i < count; i++) {
            assertTrue(ring.vq.reqStart(prefix + i, 2));
            ring.vq.reqAddIov(buf.address(), 4, false);
            ring.vq.reqAddIov(buf.address() + 4, 4, true);
        }
        ring.vq.reqFlush();
    }

    private static RecordingSink pollExpectingBreak(PackedTestRing ring, int expectedDelivered) {
        RecordingSink sink = new RecordingSink();
        int delivered = assertDoesNotThrow(() -> ring.vq.poll(16, sink));
        assertEquals(expectedDelivered, delivered);
        assertTrue(ring.vq.isBroken());
        return sink;
    }

    private static void assertAllFailed(PackedTestRing ring, RecordingSink sink, RingViolation violation, String message,
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
        assertEquals(violation, ring.vq.brokenCause().violation());
        assertEquals(0, ring.vq.inFlight());
        assertEquals(SIZE, ring.vq.freeDescriptors());
        VirtioException thrown = assertThrows(VirtioException.class, () -> ring.vq.reqStart("late", 1));
        assertEquals(LABEL + " is broken: " + message.substring(LABEL.length() + 2), thrown.getMessage());
        assertEquals(violation, assertInstanceOf(RingViolationException.class, thrown).violation());
        ring.device.injectFault(Fault.NONE);
        assertEquals(0, assertDoesNotThrow(() -> ring.vq.poll(16, new RecordingSink())), "a broken queue delivers nothing more");
    }
}
