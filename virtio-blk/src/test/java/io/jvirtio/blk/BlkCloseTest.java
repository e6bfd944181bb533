package io.jvirtio.blk;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.core.ring.SimulatedDevice.Fault;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Closing under I/O in flight: the bdev's close fails the channel's I/O on its next poll and keeps owned memory
 * mapped until the last channel is closed; a channel's close does not wait on a queue that cannot answer.
 */
class BlkCloseTest {

    @Test
    void closingTheBdevFailsInFlightIoOnTheNextPoll() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend();
        VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options());
        VirtioBlkChannel ch = blk.openChannel();
        MemorySegment buf = blk.allocateBuffer(4096, 4096);
        sim.ringFault(0, Fault.STALL);
        Completions done = new Completions();
        assertTrue(ch.write(buf, 0, done, "a"));
        assertTrue(ch.write(buf, 4096, done, "b"));
        for (int i = 0; i < 1000; i++) {
            ch.poll();
        }
        assertEquals(0, done.count(), "a stalled device completes nothing");
        assertEquals(2, ch.inFlight());

        blk.close();
        assertFalse(sim.destructed(), "the transport stays open while a channel owns a queue (its kicks must land somewhere)");
        assertFalse(sim.memory().regions().isEmpty(), "owned memory stays mapped while a channel may read its ring");
        assertDoesNotThrow(ch::poll);
        assertEquals(2, done.count());
        for (String io : new String[]{"a", "b"}) {
            assertTrue(done.expectError(io).getMessage().contains("closed with I/O in flight"), done.expectError(io).getMessage());
        }
        assertEquals(0, ch.inFlight());
        BdevIoException after = assertThrows(BdevIoException.class, () -> ch.write(buf, 0, done, "c"));
        assertTrue(after.getMessage().contains("closed"), after.getMessage());
        assertDoesNotThrow(ch::close);
        assertTrue(sim.destructed(), "the last channel's close destructed the transport");
        assertTrue(sim.memory().regions().isEmpty(), "the last channel's close unmapped the owned memory");
    }

    @Test
    void closingAChannelOnABrokenRingFailsItsIoAndTakesTheQueueOutOfService() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend();
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options().withRequestQueues(1))) {
            VirtioBlkChannel ch = blk.openChannel();
            MemorySegment buf = blk.allocateBuffer(4096, 4096);
            Completions done = new Completions();
            assertTrue(ch.write(buf, 0, done, "a"));
            // Broken ring: close must not wait out its drain deadline for a queue that will never answer.
            sim.ringFault(0, Fault.USED_INDEX_JUMP);
            assertTrue(ch.write(buf, 0, done, "b"));
            ch.close();
            assertEquals(2, done.count());
            BdevIoException noQueue = assertThrows(BdevIoException.class, blk::openChannel,
                    "a queue the device broke is not handed to the next channel");
            assertTrue(noQueue.getMessage().contains("1 broken by the device"), noQueue.getMessage());
        }
    }
}
