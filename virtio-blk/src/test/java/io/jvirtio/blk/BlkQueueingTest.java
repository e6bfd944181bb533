package io.jvirtio.blk;

import io.jvirtio.blk.SimulatedBlkBackend.Request;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.List;

import static io.jvirtio.core.testing.BlkPatterns.*;
import static io.jvirtio.spec.blk.VirtioBlkSpec.VIRTIO_BLK_T_OUT;
import static org.junit.jupiter.api.Assertions.*;

/** Channel depth, the pending FIFO behind a full ring, and reset ordering. */
class BlkQueueingTest {

    @Test
    void submitReturnsFalseWhenTheChannelIsFullAndTrueAfterPoll() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().autoProcess(false);
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options().withChannelDepth(2));
             VirtioBlkChannel ch = blk.openChannel()) {
            MemorySegment buf = blk.allocateBuffer(4096, 4096);
            Completions done = new Completions();
            assertTrue(ch.write(buf, 0, done, 0));
            assertTrue(ch.read(buf, 4096, done, 1));
            assertFalse(ch.write(buf, 8192, done, 2), "depth 2 reached");
            assertFalse(ch.flush(done, 2), "every kind of I/O needs a context");
            assertEquals(2, ch.inFlight());
            assertEquals(0, ch.poll(), "nothing completed yet");
            sim.process(0);
            assertEquals(2, ch.poll());
            assertEquals(List.of(0, 1), done.contexts);
            assertTrue(ch.write(buf, 8192, done, 2), "room again after poll");
            done.await(ch, sim, 3);
        }
    }

    /**
     * Eight writes to one block on a ring that holds two: six wait in the FIFO. They must reach the device and
     * complete in submission order, so the last one wins on the disk.
     */
    @Test
    void writesWaitingForRingSpaceKeepTheirOrder() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().autoProcess(false);
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options().withQueueSize(8));
             VirtioBlkChannel ch = blk.openChannel()) {
            int n = 8;
            MemorySegment[] bufs = new MemorySegment[n];
            Completions done = new Completions();
            for (int i = 0; i < n; i++) {
                bufs[i] = blk.allocateBuffer(4096, 4096);
                fill(bufs[i], 200 + i);
                assertTrue(ch.write(bufs[i], 8192, done, i), "write " + i);
            }
            assertEquals(2, sim.queue(0).pending(), "three descriptors per request: two fit a ring of 8");
            done.await(ch, sim, n);
            assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7), done.contexts, "completion order");
            for (int i = 0; i < n; i++) {
                assertNull(done.errorOf(i));
            }
            List<Request> reqs = sim.requests();
            assertEquals(n, reqs.size());
            for (int i = 0; i < n; i++) {
                assertEquals(VIRTIO_BLK_T_OUT, reqs.get(i).type());
                assertSameBytes(bytes(bufs[i]), reqs.get(i).data(), "the device saw write " + i + " in place " + i);
            }
            assertSameBytes(bytes(bufs[n - 1]), sim.diskBytes(8192, 4096), "last write wins");
        }
    }

    /** Once something waits, a small I/O that would fit the ring must not overtake it. */
    @Test
    void aSmallIoDoesNotOvertakeALargeOneWaitingForTheRing() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().sizeMax(4096).autoProcess(false);
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options().withQueueSize(8));
             VirtioBlkChannel ch = blk.openChannel()) {
            MemorySegment big = blk.allocateBuffer(64 << 10, 4096);
            MemorySegment small = blk.allocateBuffer(4096, 4096);
            fill(big, 1);
            fill(small, 2);
            Completions done = new Completions();
            assertTrue(ch.write(big, 0, done, "big"));     // 16 segments, 6 per request: 3 requests, 1 fits
            assertTrue(ch.write(small, 0, done, "small")); // would fit after the first, must wait behind "big"
            done.await(ch, sim, 2);
            assertEquals(List.of("big", "small"), done.contexts);
            assertSameBytes(bytes(small), sim.diskBytes(0, 4096), "the later small write landed last");
            assertSameBytes(bytes(big.asSlice(4096)), sim.diskBytes(4096, (64 << 10) - 4096), "rest of the big write");
        }
    }

    @Test
    void resetCompletesAfterTheIoSubmittedBeforeIt() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().autoProcess(false);
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options());
             VirtioBlkChannel ch = blk.openChannel()) {
            MemorySegment buf = blk.allocateBuffer(4096, 4096);
            Completions done = new Completions();
            assertTrue(ch.write(buf, 0, done, "w0"));
            assertTrue(ch.write(buf, 4096, done, "w1"));
            assertTrue(ch.reset(done, "reset"));
            ch.poll();
            assertEquals(0, done.count(), "reset waits for the writes");
            done.await(ch, sim, 3);
            assertEquals(List.of("w0", "w1", "reset"), done.contexts);
            assertNull(done.errorOf("reset"));
            assertEquals(2, sim.requests().size(), "virtio-blk has no reset request");
        }
    }
}
