package io.jvirtio.blk;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.blk.SimulatedBlkBackend.Request;
import io.jvirtio.core.ring.SimulatedDevice.Fault;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.List;

import static io.jvirtio.core.testing.BlkPatterns.*;
import static io.jvirtio.spec.blk.VirtioBlkSpec.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Block-size-aligned splitting, quarantine of a queue whose device never answers, and SyncIo not
 * taking a late completion for the next call's.
 */
class BlkReviewFixesTest {

    /** 4 KiB blocks, seg_max 2, 512-byte iovecs: each request must start on a 4 KiB sector boundary. */
    @Test
    void splitsOnLogicalBlockBoundaries() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().blkSize(4096).segMax(2);
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options());
             VirtioBlkChannel ch = blk.openChannel()) {
            // seg_max 2 of 512-byte iovecs cannot cover a 4 KiB block: refused with a clear error
            MemorySegment[] small = BlkSplittingTest.iovecs(blk, 8, 512);
            BdevIoException e = assertThrows(BdevIoException.class, () -> Completions.sync(ch).writev(small, small.length, 0));
            assertTrue(e.getMessage().contains("do not cover one 4096-byte block"), e.getMessage());
            assertTrue(sim.requests().isEmpty(), "nothing reached the device");

            // 3 x 3 KiB iovecs with seg_max 2: requests of 4 KiB multiples, each starting on a block
            MemorySegment[] iovs = BlkSplittingTest.iovecs(blk, 4, 3072);
            Completions.sync(ch).writev(iovs, iovs.length, 8192);
            List<Request> reqs = sim.requests();
            long expectSector = 8192 / SECTOR_SIZE;
            for (Request r : reqs) {
                assertEquals(0, r.sector() % (4096 / SECTOR_SIZE), "request at sector " + r.sector() + " is block-aligned: " + reqs);
                assertEquals(expectSector, r.sector(), "contiguous: " + reqs);
                int bytes = r.segments().stream().mapToInt(Integer::intValue).sum();
                assertEquals(0, bytes % 4096, "whole blocks: " + reqs);
                assertTrue(r.segments().size() <= 2, "seg_max: " + reqs);
                expectSector += bytes / SECTOR_SIZE;
            }
            BlkSplittingTest.assertIovecsOnDisk(sim, iovs, 8192);
        }
    }

    @Test
    void aChannelWhoseDeviceNeverAnswersIsQuarantinedUntilTheDeviceCloses() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().numQueues(2);
        VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options().withRequestQueues(2));
        VirtioBlkChannel ch = blk.openChannel();
        MemorySegment buf = blk.allocateBuffer(4096, 4096);
        sim.ringFault(ch.queue().index(), Fault.STALL);
        Completions done = new Completions();
        assertTrue(ch.write(buf, 0, done, "a"));
        ch.close(); // waits out its drain deadline
        assertTrue(done.expectError("a").getMessage().contains("quarantined"), done.expectError("a").getMessage());
        try (VirtioBlkChannel other = blk.openChannel()) {
            assertNotEquals(ch.queue().index(), other.queue().index(), "the quarantined queue is not handed out");
            new SyncIo(other).write(buf, 4096);
        }
        blk.close();
        assertTrue(sim.destructed(), "closing the device releases the quarantined queue and the transport");
        assertTrue(sim.memory().regions().isEmpty(), "and unmaps the owned memory");
    }

    @Test
    void syncIoDoesNotTakeALateCompletionForTheNextCall() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().autoProcess(false);
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options());
             VirtioBlkChannel ch = blk.openChannel()) {
            MemorySegment buf = blk.allocateBuffer(4096, 4096);
            SyncIo io = new SyncIo(ch, 50_000_000L);
            assertThrows(BdevIoException.class, () -> io.read(buf, 0), "times out: the device processes nothing yet");
            sim.autoProcess(true);
            sim.process(0);
            fill(buf, 3);
            io.write(buf, 4096); // the first read's late completion must not end this call early
            assertEquals(0, ch.inFlight());
            assertSameBytes(bytes(buf), sim.diskBytes(4096, 4096), "the write really completed");
        }
    }
}
