package io.jvirtio.core.ring;

import io.jvirtio.spec.ring.PackedRingLayout;

import io.jvirtio.spec.VirtioException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link SplitVirtqueueTest}'s cases on a packed ring, against {@link SimulatedPackedDevice}. */
class PackedVirtqueueTest {
    private static final int BLOCK = 512;

    /** A request's buffers as the test posted them: data out, the device's echo back. */
    private record Posted(MemorySegment out, MemorySegment in) {
    }

    @ParameterizedTest(name = "size {0}, maxIndirect {1}, eventIdx {2}, reverse {3}, directChainMax {4}")
    @CsvSource({"64,0,false,false,0", "64,0,true,true,0", "64,8,false,true,0", "64,8,true,false,0", "2,0,false,false,0", "2,2,true,false,0",
            "64,8,false,true,4", "64,8,true,false,4", "24,8,true,true,4"})
    void roundTripsManyRequestsWithData(int size, int maxIndirect, boolean eventIdx, boolean reverse, int directChainMax) {
        try (PackedTestRing ring = new PackedTestRing(size, maxIndirect, eventIdx)) {
            ring.vq.setDirectChainMax(directChainMax);
            ring.device.reverseOrder(reverse);
            RecordingSink sink = new RecordingSink();
            Random random = new Random(42);
            Map<Integer, Posted> posted = new HashMap<>();
            int next = 0;
            int requests = 2000;
            while (next < requests || ring.vq.inFlight() > 0) {
                int batch = 1 + random.nextInt(size);
                for (int b = 0; b < batch && next < requests; b++) {
                    // Header-like readable + data out, then data in + status-like writable: up to 4 buffers.
                    int bufs = Math.min(size, 2 + random.nextInt(3));
                    if (!ring.vq.reqStart(next, bufs)) {
                        break;
                    }
                    MemorySegment out = ring.buffer(BLOCK);
                    MemorySegment in = ring.buffer(BLOCK);
                    fill(out, next);
                    addSplit(ring.vq, out, bufs / 2, false);
                    addSplit(ring.vq, in, bufs - bufs / 2, true);
                    posted.put(next, new Posted(out, in));
                    next++;
                }
                ring.vq.reqFlush();
                ring.device.process(1 + random.nextInt(size));
                ring.vq.poll(1 + random.nextInt(size), sink);
            }
            assertEquals(requests, sink.completed.size());
            assertTrue(sink.failed.isEmpty());
            for (int i = 0; i < sink.completed.size(); i++) {
                Posted p = posted.get((Integer) sink.completed.get(i));
                assertEquals(BLOCK, sink.lengths.get(i));
                assertArrayEquals(p.out().toArray(ValueLayout.JAVA_BYTE), p.in().toArray(ValueLayout.JAVA_BYTE));
            }
            assertEquals(size, ring.vq.freeDescriptors());
            assertEquals(0, ring.vq.inFlight());
            assertEquals(ring.vq.availIndex(), ring.vq.lastUsedIndex());
        }
    }

    @ParameterizedTest(name = "maxIndirect {0}, eventIdx {1}")
    @CsvSource({"0,false", "0,true", "4,true"})
    void wrapsTheRingManyTimes(int maxIndirect, boolean eventIdx) {
        int size = 8;
        int requests = 3 * 65536 / 2 + 17;
        try (PackedTestRing ring = new PackedTestRing(size, maxIndirect, eventIdx)) {
            CountingSink sink = new CountingSink();
            MemorySegment header = ring.buffer(16);
            MemorySegment status = ring.buffer(1);
            int started = 0;
            while (started < requests) {
                for (int b = 0; b < 3 && started < requests; b++) {
                    // Two buffers: direct chains take 2 descriptors, so the queue fills at 4 (or 8 indirect).
                    if (!ring.vq.reqStart(started, 2)) {
                        break;
                    }
                    ring.vq.reqAddIov(header.address(), 16, false);
                    ring.vq.reqAddIov(status.address(), 1, true);
                    started++;
                }
                ring.vq.reqFlush();
                ring.device.process(2);
                ring.vq.poll(size, sink);
            }
            while (ring.vq.inFlight() > 0) {
                ring.device.process();
                ring.vq.poll(size, sink);
            }
            assertEquals(requests, sink.used);
            assertEquals(0, sink.errors);
            long slots = (long) requests * (maxIndirect > 0 ? 1 : 2);
            int pos = (int) (slots % (2L * size));
            assertEquals(PackedRingLayout.offWrap(pos % size, pos < size), ring.vq.availIndex());
            assertEquals(ring.vq.availIndex(), ring.vq.lastUsedIndex());
            assertEquals(size, ring.vq.freeDescriptors());
            assertFalse(ring.vq.isBroken());
        }
    }

    @Test
    void fullQueueRefusesThenAcceptsAfterPoll() {
        try (PackedTestRing ring = new PackedTestRing(4, 0, false)) {
            RecordingSink sink = new RecordingSink();
            MemorySegment buf = ring.buffer(64);
            for (int i = 0; i < 4; i++) {
                assertTrue(ring.vq.reqStart("r" + i, 1));
                ring.vq.reqAddIov(buf.address(), 64, true);
            }
            assertFalse(ring.vq.reqStart("r4", 1));
            assertEquals(0, ring.vq.freeDescriptors());
            assertEquals(4, ring.vq.inFlight());
            ring.vq.reqFlush();
            assertEquals(0, ring.vq.poll(16, sink), "nothing used before the device runs");
            assertFalse(ring.vq.reqStart("r4", 1));

            ring.device.process(1);
            assertTrue(ring.vq.hasUsed());
            assertEquals(1, ring.vq.poll(16, sink));
            assertFalse(ring.vq.hasUsed());
            assertTrue(ring.vq.reqStart("r4", 1));
            ring.vq.reqAddIov(buf.address(), 64, true);
            // A two-buffer direct request needs two descriptors: none free.
            assertFalse(ring.vq.reqStart("r5", 2));
            ring.flushProcessPoll(sink);
            assertEquals(List.of("r0", "r1", "r2", "r3", "r4"), sink.completed);
            assertEquals(4, ring.vq.freeDescriptors());
        }
    }

    @ParameterizedTest(name = "maxIndirect {0}")
    @CsvSource({"0", "16"})
    void chainsOfOneToSizeBuffers(int maxIndirect) {
        int size = 16;
        try (PackedTestRing ring = new PackedTestRing(size, maxIndirect, false)) {
            RecordingSink sink = new RecordingSink();
            for (int n = 1; n <= size; n++) {
                for (int readable = 0; readable <= n; readable++) {
                    int writable = n - readable;
                    List<MemorySegment> outs = new ArrayList<>();
                    List<MemorySegment> ins = new ArrayList<>();
                    assertTrue(ring.vq.reqStart(n * 100 + readable, n));
                    for (int i = 0; i < readable; i++) {
                        MemorySegment out = ring.buffer(8 + i);
                        fill(out, n * 31 + i);
                        outs.add(out);
                        ring.vq.reqAddIov(out.address(), (int) out.byteSize(), false);
                    }
                    for (int i = 0; i < writable; i++) {
                        MemorySegment in = ring.buffer(8 + readable + i);
                        ins.add(in);
                        ring.vq.reqAddIov(in.address(), (int) in.byteSize(), true);
                    }
                    int expectedDescriptors = maxIndirect > 0 && n > 1 ? 1 : n;
                    assertEquals(size - expectedDescriptors, ring.vq.freeDescriptors(), "chain of " + n);
                    sink.clear();
                    assertEquals(1, ring.flushProcessPoll(sink));
                    long outBytes = outs.stream().mapToLong(MemorySegment::byteSize).sum();
                    long inBytes = ins.stream().mapToLong(MemorySegment::byteSize).sum();
                    assertEquals(Math.min(outBytes, inBytes), (long) sink.lengths.getFirst());
                    byte[] sent = concat(outs);
                    byte[] got = concat(ins);
                    for (int i = 0; i < Math.min(sent.length, got.length); i++) {
                        assertEquals(sent[i], got[i], "chain of " + n + ", byte " + i);
                    }
                    assertEquals(size, ring.vq.freeDescriptors());
                }
            }
        }
    }

    @Test
    void indirectHoldsAChainThatDoesNotFitTheFreeDescriptors() {
        int size = 8;
        try (PackedTestRing ring = new PackedTestRing(size, 8, false)) {
            RecordingSink sink = new RecordingSink();
            MemorySegment buf = ring.buffer(64);
            // Seven single-buffer requests (direct: one descriptor each) leave one descriptor free.
            for (int i = 0; i < 7; i++) {
                assertTrue(ring.vq.reqStart("small" + i, 1));
                ring.vq.reqAddIov(buf.address(), 64, true);
            }
            assertEquals(1, ring.vq.freeDescriptors());
            assertTrue(ring.vq.reqStart("big", 8));
            for (int i = 0; i < 4; i++) {
                ring.vq.reqAddIov(buf.address() + i * 8L, 8, false);
            }
            for (int i = 0; i < 4; i++) {
                ring.vq.reqAddIov(buf.address() + 32 + i * 8L, 8, true);
            }
            assertEquals(0, ring.vq.freeDescriptors());
            ring.vq.reqFlush();
            assertEquals(PackedRingLayout.VIRTQ_DESC_F_INDIRECT | PackedRingLayout.VIRTQ_DESC_F_AVAIL, ring.descFlags(7),
                    "the eighth request takes slot 7, one indirect descriptor, available in the first lap");
            ring.device.process();
            assertEquals(8, ring.vq.poll(16, sink));
            assertEquals("big", sink.completed.get(7));
            assertEquals(32, sink.lengths.get(7));
            assertEquals(size, ring.vq.freeDescriptors());
        }
    }

    @Test
    void requestLongerThanMaxIndirectIsADirectChain() {
        try (PackedTestRing ring = new PackedTestRing(16, 4, false)) {
            RecordingSink sink = new RecordingSink();
            MemorySegment buf = ring.buffer(64);
            assertTrue(ring.vq.reqStart("six", 6));
            for (int i = 0; i < 6; i++) {
                ring.vq.reqAddIov(buf.address() + i * 8L, 8, i >= 3);
            }
            assertEquals(10, ring.vq.freeDescriptors());
            ring.flushProcessPoll(sink);
            assertEquals(List.of("six"), sink.completed);
            assertEquals(24, sink.lengths.getFirst());
            // Only 4 free: a 6-buffer request must wait, a 4-buffer one goes indirect in 1 descriptor.
            fillWithSingles(ring, 12);
            assertFalse(ring.vq.reqStart("six-again", 6));
            assertTrue(ring.vq.reqStart("four", 4));
            assertEquals(3, ring.vq.freeDescriptors());
        }
    }

    @Test
    void iovcntThatCanNeverFitIsRejectedWithTheLimits() {
        try (PackedTestRing ring = new PackedTestRing("blk0-q0", 8, 4, false)) {
            VirtioException tooMany = assertThrows(VirtioException.class, () -> ring.vq.reqStart("x", 9));
            assertTrue(tooMany.getMessage().contains("blk0-q0"), tooMany.getMessage());
            assertTrue(tooMany.getMessage().contains("9 buffers"), tooMany.getMessage());
            assertTrue(tooMany.getMessage().contains("1..8"), tooMany.getMessage());
            assertThrows(VirtioException.class, () -> ring.vq.reqStart("x", 0));
            assertEquals(8, ring.vq.freeDescriptors());
            assertEquals(0, ring.vq.inFlight());
        }
    }

    @ParameterizedTest(name = "maxIndirect {0}")
    @CsvSource({"0", "8"})
    void abortReturnsDescriptors(int maxIndirect) {
        try (PackedTestRing ring = new PackedTestRing(8, maxIndirect, false)) {
            RecordingSink sink = new RecordingSink();
            MemorySegment buf = ring.buffer(64);
            assertTrue(ring.vq.reqStart("kept", 1));
            ring.vq.reqAddIov(buf.address(), 8, true);
            assertTrue(ring.vq.reqStart("aborted", 3));
            ring.vq.reqAddIov(buf.address(), 8, false);
            ring.vq.reqAddIov(buf.address() + 8, 8, true);
            ring.vq.reqAbort();
            assertEquals(7, ring.vq.freeDescriptors());
            assertEquals(1, ring.vq.inFlight());
            ring.vq.reqAbort(); // nothing being built: no-op
            assertEquals(7, ring.vq.freeDescriptors());
            ring.flushProcessPoll(sink);
            assertEquals(List.of("kept"), sink.completed);
            assertEquals(8, ring.vq.freeDescriptors());
            assertEquals(1, ring.device.completed());
        }
    }

    @Test
    void fewerBuffersThanStartedGivesTheRestBack() {
        try (PackedTestRing ring = new PackedTestRing(8, 0, false)) {
            RecordingSink sink = new RecordingSink();
            MemorySegment out = ring.buffer(16);
            MemorySegment in = ring.buffer(16);
            fill(out, 7);
            assertTrue(ring.vq.reqStart("short", 5));
            ring.vq.reqAddIov(out.address(), 16, false);
            ring.vq.reqAddIov(in.address(), 16, true);
            ring.vq.reqFlush();
            assertEquals(6, ring.vq.freeDescriptors());
            ring.device.process();
            ring.vq.poll(8, sink);
            assertEquals(List.of(16), sink.lengths);
            assertArrayEquals(out.toArray(ValueLayout.JAVA_BYTE), in.toArray(ValueLayout.JAVA_BYTE));
            assertEquals(8, ring.vq.freeDescriptors());
        }
    }

    @Test
    void misuseIsRejected() {
        try (PackedTestRing ring = new PackedTestRing(8, 0, false)) {
            MemorySegment buf = ring.buffer(16);
            assertThrows(IllegalStateException.class, () -> ring.vq.reqAddIov(buf.address(), 16, false));
            assertTrue(ring.vq.reqStart("a", 2));
            ring.vq.reqAddIov(buf.address(), 8, true);
            assertThrows(IllegalArgumentException.class, () -> ring.vq.reqAddIov(buf.address(), 8, false),
                    "readable after writable");
            assertThrows(IllegalArgumentException.class, () -> ring.vq.reqAddIov(buf.address(), -1, true));
            ring.vq.reqAddIov(buf.address(), 8, true);
            assertThrows(IllegalStateException.class, () -> ring.vq.reqAddIov(buf.address(), 8, true), "third of two");
            assertTrue(ring.vq.reqStart("empty", 1));
            assertThrows(IllegalStateException.class, ring.vq::reqFlush);
            // The empty request was dropped, the first one is still queued.
            assertEquals(1, ring.vq.inFlight());
            assertEquals(6, ring.vq.freeDescriptors());
        }
    }

    @Test
    void constructorChecksItsArguments() {
        try (PackedTestRing ring = new PackedTestRing(8, 0, false)) {
            MemorySegment mem = ring.ringMemory;
            assertDoesNotThrow(() -> new PackedVirtqueue("q", 0, 6, mem, null, 0, false, vq -> { }), "any size, not only powers of two");
            assertThrows(IllegalArgumentException.class, () -> new PackedVirtqueue("q", 0, 0, mem, null, 0, false, vq -> { }));
            assertThrows(IllegalArgumentException.class, () -> new PackedVirtqueue("q", 0, 32769, mem, null, 0, false, vq -> { }));
            assertThrows(IllegalArgumentException.class, () -> new PackedVirtqueue("q", 0, 16, mem, null, 0, false, vq -> { }));
            assertThrows(IllegalArgumentException.class,
                    () -> new PackedVirtqueue("q", 0, 8, mem.asSlice(8), null, 0, false, vq -> { }));
            assertThrows(IllegalArgumentException.class, () -> new PackedVirtqueue("q", 0, 8, mem, null, 4, false, vq -> { }));
            assertThrows(IllegalArgumentException.class,
                    () -> new PackedVirtqueue("q", 0, 8, mem, ring.buffer(16), 4, false, vq -> { }));
        }
    }

    @Test
    void eventIdxKicksOnlyWhenTheDeviceAsked() {
        try (PackedTestRing ring = new PackedTestRing(16, 4, true)) {
            RecordingSink sink = new RecordingSink();
            MemorySegment buf = ring.buffer(8);
            submit(ring, buf, 4);
            assertEquals(1, ring.device.notifications(), "the device's off_wrap 0 is crossed by 0 -> 4");
            submit(ring, buf, 4);
            assertEquals(1, ring.device.notifications(), "device has not caught up: no second kick");
            ring.device.process();
            ring.vq.poll(64, sink);
            submit(ring, buf, 1);
            assertEquals(2, ring.device.notifications(), "device consumed everything and set off_wrap to 8");
            ring.vq.reqFlush();
            assertEquals(2, ring.device.notifications(), "an empty flush never kicks");

            ring.device.process();
            ring.device.notificationsWanted(false); // a polling device sets RING_EVENT_FLAGS_DISABLE
            for (int i = 0; i < 40; i++) {
                submit(ring, buf, 1);
                ring.device.process();
                ring.vq.poll(64, sink);
            }
            assertEquals(2, ring.device.notifications());
            ring.device.notificationsWanted(true);
            submit(ring, buf, 1);
            assertEquals(3, ring.device.notifications());
            ring.device.process();
            ring.vq.poll(64, sink);
            assertEquals(50, sink.completed.size());
        }
    }

    @Test
    void noNotifyFlagSuppressesKicksWithoutEventIdx() {
        try (PackedTestRing ring = new PackedTestRing(32, 0, false)) {
            MemorySegment buf = ring.buffer(8);
            submit(ring, buf, 2);
            submit(ring, buf, 2);
            assertEquals(2, ring.device.notifications(), "without EVENT_IDX every flush kicks unless NO_NOTIFY");
            ring.device.notificationsWanted(false);
            submit(ring, buf, 2);
            submit(ring, buf, 2);
            assertEquals(2, ring.device.notifications());
            ring.device.notificationsWanted(true);
            submit(ring, buf, 1);
            assertEquals(3, ring.device.notifications());
        }
    }

    @ParameterizedTest(name = "eventIdx {0}")
    @CsvSource({"false", "true"})
    void interruptsOnlyWhenEnabled(boolean eventIdx) {
        try (PackedTestRing ring = new PackedTestRing(16, 0, eventIdx)) {
            RecordingSink sink = new RecordingSink();
            MemorySegment buf = ring.buffer(8);
            for (int i = 0; i < 3; i++) {
                submit(ring, buf, 2);
                ring.device.process();
                ring.vq.poll(16, sink);
            }
            assertEquals(0, ring.device.interrupts(), "polled mode is the default");
            assertFalse(ring.vq.interruptsEnabled());

            ring.vq.setInterruptsEnabled(true);
            submit(ring, buf, 2);
            ring.device.process();
            assertEquals(1, ring.device.interrupts());
            if (eventIdx) {
                // Not polled yet: the driver's off_wrap still names the slot already signalled.
                submit(ring, buf, 1);
                ring.device.process();
                assertEquals(1, ring.device.interrupts(), "EVENT_IDX: one interrupt until the driver polls");
            }
            ring.vq.poll(16, sink);
            submit(ring, buf, 1);
            ring.device.process();
            assertEquals(2, ring.device.interrupts());

            ring.vq.poll(16, sink);
            ring.vq.setInterruptsEnabled(false);
            submit(ring, buf, 3);
            ring.device.process();
            ring.vq.poll(16, sink);
            assertEquals(2, ring.device.interrupts());
        }
    }

    @Test
    void failAllFailsEverythingAndResetsAtTheSamePosition() {
        try (PackedTestRing ring = new PackedTestRing(8, 4, false)) {
            RecordingSink sink = new RecordingSink();
            MemorySegment buf = ring.buffer(64);
            submit(ring, buf, 2);
            ring.device.process();
            ring.vq.poll(8, sink);
            ring.device.injectFault(SimulatedPackedDevice.Fault.STALL);
            for (int i = 0; i < 4; i++) {
                assertTrue(ring.vq.reqStart("stalled" + i, 2));
                ring.vq.reqAddIov(buf.address(), 8, false);
                ring.vq.reqAddIov(buf.address() + 8, 8, true);
            }
            ring.vq.reqFlush();
            assertTrue(ring.vq.reqStart("queued", 1));
            ring.vq.reqAddIov(buf.address(), 8, true);
            assertTrue(ring.vq.reqStart("building", 1));
            for (int i = 0; i < 100; i++) {
                assertEquals(0, ring.vq.poll(8, sink), "a stalled device: nothing, no hang");
            }
            assertEquals(6, ring.vq.inFlight());

            VirtioException dead = new VirtioException("transport died");
            assertEquals(6, ring.vq.failAll(dead, sink));
            assertEquals(6, sink.failed.size());
            assertTrue(sink.failed.values().stream().allMatch(e -> e == dead));
            assertTrue(sink.failed.containsKey("queued") && sink.failed.containsKey("building"));
            assertEquals(0, ring.vq.inFlight());
            assertEquals(8, ring.vq.freeDescriptors());
            assertEquals(PackedRingLayout.offWrap(6, true), ring.vq.availIndex(), "unflushed requests never reached the device");
            assertEquals(ring.vq.availIndex(), ring.vq.lastUsedIndex());

            // Reconnect: the device resumes at the avail index (SET_VRING_BASE), the queue works again.
            ring.device.injectFault(SimulatedPackedDevice.Fault.NONE);
            ring.device.resume(ring.vq.availIndex());
            sink.clear();
            submit(ring, buf, 3);
            ring.device.process();
            assertEquals(3, ring.vq.poll(8, sink));
            assertTrue(sink.failed.isEmpty());
        }
    }

    @ParameterizedTest(name = "maxIndirect {0}, eventIdx {1}")
    @CsvSource({"0,false", "8,true"})
    void roundTripsAgainstADeviceOnItsOwnThread(int maxIndirect, boolean eventIdx) {
        int size = 32;
        int requests = 20_000;
        try (PackedTestRing ring = new PackedTestRing(size, maxIndirect, eventIdx)) {
            MemorySegment[] outs = new MemorySegment[size];
            MemorySegment[] ins = new MemorySegment[size];
            for (int i = 0; i < size; i++) {
                ins[i] = ring.buffer(64);
            }
            int[] checked = {0};
            UsedSink verifying = new UsedSink() {
                @Override
                public void onUsed(Object cookie, int len) {
                    int slot = (Integer) cookie;
                    assertEquals(64, len);
                    assertEquals(-1, outs[slot].mismatch(ins[slot]), "echo of slot " + slot);
                    ins[slot].fill((byte) 0);
                    outs[slot] = null;
                    checked[0]++;
                }

                @Override
                public void onError(Object cookie, VirtioException error) {
                    throw new AssertionError(error);
                }
            };
            MemorySegment[] pool = new MemorySegment[size];
            for (int i = 0; i < size; i++) {
                pool[i] = ring.buffer(64);
            }
            ring.device.start();
            int slot = 0;
            for (int i = 0; i < requests; i++) {
                // Wait for the slot's previous request: its buffers are reused.
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (outs[slot] != null) {
                    if (ring.vq.poll(size, verifying) == 0) {
                        Thread.yield();
                    }
                    assertTrue(System.nanoTime() < deadline, "request " + i + ": slot " + slot + " never completed");
                }
                outs[slot] = pool[slot];
                fill(outs[slot], i);
                assertTrue(ring.vq.reqStart(slot, 3));
                ring.vq.reqAddIov(outs[slot].address(), 32, false);
                ring.vq.reqAddIov(outs[slot].address() + 32, 32, false);
                ring.vq.reqAddIov(ins[slot].address(), 64, true);
                if ((i & 3) == 3) {
                    ring.vq.reqFlush();
                }
                slot = (slot + 1) % (maxIndirect > 0 ? size : size / 3);
            }
            ring.vq.reqFlush();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (ring.vq.inFlight() > 0) {
                if (ring.vq.poll(size, verifying) == 0) {
                    Thread.yield();
                }
                assertTrue(System.nanoTime() < deadline, ring.vq.inFlight() + " requests never completed");
            }
            assertEquals(requests, checked[0]);
            assertFalse(ring.vq.isBroken());
        }
    }

    /**
     * A device dies holding a request it took while a later one completed out of order: the replay writes
     * the requests still in flight again, oldest first, from the used position (the dead device's used
     * descriptor overwrote the oldest one's first slot); queued and half-built requests follow unpublished.
     * A new device resuming at the base completes them all, byte for byte.
     */
    @ParameterizedTest(name = "maxIndirect {0}")
    @CsvSource({"0", "4"})
    void replayAfterADeviceDiedHoldingRequests(int maxIndirect) {
        int size = 8;
        try (PackedTestRing ring = new PackedTestRing(size, maxIndirect, false)) {
            RecordingSink sink = new RecordingSink();
            Map<String, Posted> posted = new HashMap<>();
            for (String name : List.of("a", "b", "c")) {
                post(ring, posted, name, true);
            }
            ring.vq.reqFlush();
            ring.device.injectFault(SimulatedPackedDevice.Fault.LOSE_FIRST);
            assertEquals(2, ring.device.process(2), "takes a and b, completes only b");
            assertEquals(1, ring.vq.poll(8, sink));
            assertEquals(List.of("b"), sink.completed);
            post(ring, posted, "d", true);
            post(ring, posted, "e", false);

            int base = ring.vq.prepareReplay();
            int slotsPerRequest = maxIndirect > 0 ? 1 : 2;
            assertEquals(PackedRingLayout.offWrap(slotsPerRequest, true), base, "from b's used descriptor on");
            try (SimulatedPackedDevice restarted = new SimulatedPackedDevice(size, ring.ringMemory, false)) {
                restarted.resume(base);
                assertEquals(2, restarted.process(), "a and c were in flight; d and e are not published yet");
                assertEquals(2, ring.vq.poll(8, sink));
                assertEquals(List.of("b", "a", "c"), sink.completed);
                ring.vq.reqAddIov(posted.get("e").in().address(), BLOCK, true);
                ring.vq.reqFlush();
                assertEquals(2, restarted.process());
                assertEquals(2, ring.vq.poll(8, sink));
            }
            assertEquals(List.of("b", "a", "c", "d", "e"), sink.completed);
            for (Posted p : posted.values()) {
                assertArrayEquals(p.out().toArray(ValueLayout.JAVA_BYTE), p.in().toArray(ValueLayout.JAVA_BYTE));
            }
            assertTrue(sink.failed.isEmpty());
            assertEquals(size, ring.vq.freeDescriptors());
        }
    }

    /** A readable and a writable block; {@code complete} false leaves the writable one to add later. */
    private static void post(PackedTestRing ring, Map<String, Posted> posted, String name, boolean complete) {
        MemorySegment out = ring.buffer(BLOCK);
        MemorySegment in = ring.buffer(BLOCK);
        fill(out, name.hashCode());
        assertTrue(ring.vq.reqStart(name, 2));
        ring.vq.reqAddIov(out.address(), BLOCK, false);
        if (complete) {
            ring.vq.reqAddIov(in.address(), BLOCK, true);
        }
        posted.put(name, new Posted(out, in));
    }

    /** Starts, fills and flushes {@code count} one-readable, one-writable requests. */
    static void submit(PackedTestRing ring, MemorySegment buf, int count) {
        for (int i = 0; i < count; i++) {
            assertTrue(ring.vq.reqStart(new Object(), 2));
            ring.vq.reqAddIov(buf.address(), 4, false);
            ring.vq.reqAddIov(buf.address() + 4, 4, true);
        }
        ring.vq.reqFlush();
    }

    private static void fillWithSingles(PackedTestRing ring, int count) {
        MemorySegment buf = ring.buffer(8);
        for (int i = 0; i < count; i++) {
            assertTrue(ring.vq.reqStart("single" + i, 1));
            ring.vq.reqAddIov(buf.address(), 8, true);
        }
    }

    /** Adds {@code seg} as {@code parts} buffers (the last takes the remainder). */
    private static void addSplit(PackedVirtqueue vq, MemorySegment seg, int parts, boolean writable) {
        int chunk = (int) seg.byteSize() / parts;
        for (int i = 0; i < parts; i++) {
            int len = i == parts - 1 ? (int) seg.byteSize() - chunk * i : chunk;
            vq.reqAddIov(seg.address() + (long) chunk * i, len, writable);
        }
    }

    private static void fill(MemorySegment seg, int seed) {
        Random r = new Random(seed);
        for (long i = 0; i < seg.byteSize(); i++) {
            seg.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt());
        }
    }

    private static byte[] concat(List<MemorySegment> segs) {
        int total = segs.stream().mapToInt(s -> (int) s.byteSize()).sum();
        byte[] all = new byte[total];
        int off = 0;
        for (MemorySegment s : segs) {
            MemorySegment.copy(s, ValueLayout.JAVA_BYTE, 0, all, off, (int) s.byteSize());
            off += (int) s.byteSize();
        }
        return all;
    }

    @Test
    void notBrokenByDefault() {
        try (PackedTestRing ring = new PackedTestRing(8, 0, false)) {
            assertFalse(ring.vq.isBroken());
            assertNull(ring.vq.brokenReason());
        }
    }
}
