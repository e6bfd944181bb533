package io.jvirtio.blk;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.IoType;
import io.jvirtio.blk.SimulatedBlkBackend.Range;
import io.jvirtio.blk.SimulatedBlkBackend.Request;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static io.jvirtio.core.testing.BlkPatterns.*;
import static io.jvirtio.spec.blk.VirtioBlkSpec.*;
import static org.junit.jupiter.api.Assertions.*;

/** Discard and write-zeroes honour max_*_sectors and max_*_seg; missing features are refused before the device. */
class BlkDiscardWriteZeroesTest {

    @Test
    void discardSplitsBySectorsAndSegments() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().discard(16, 3);
        fill(sim.disk(), 3);
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options());
             VirtioBlkChannel ch = blk.openChannel()) {
            assertTrue(blk.supports(IoType.UNMAP));
            byte[] before = sim.diskBytes(0, 64 << 10);
            Completions.sync(ch).unmap(8 * 512, 100 * 512);
            List<Request> reqs = sim.requests();
            assertEquals(3, reqs.size(), "100 sectors in segments of 16, 3 per request: " + reqs);
            assertRanges(reqs, VIRTIO_BLK_T_DISCARD, 8, 100, 16, 3);
            assertEquals(4, reqs.getLast().ranges().getFirst().numSectors(), "the remainder");
            assertZeroedExactly(sim, before, 8 * 512, 100 * 512);
        }
    }

    @Test
    void writeZeroesSplitsBySectorsAndSegments() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().writeZeroes(8, 2);
        fill(sim.disk(), 4);
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options());
             VirtioBlkChannel ch = blk.openChannel()) {
            byte[] before = sim.diskBytes(0, 64 << 10);
            Completions.sync(ch).writeZeroes(512, 40 * 512);
            List<Request> reqs = sim.requests();
            assertEquals(3, reqs.size(), "40 sectors in segments of 8, 2 per request: " + reqs);
            assertRanges(reqs, VIRTIO_BLK_T_WRITE_ZEROES, 1, 40, 8, 2);
            assertZeroedExactly(sim, before, 512, 40 * 512);
        }
    }

    /** max_discard_sectors and max_discard_seg are le32: 0xffffffff is a legal "no practical limit", not -1. */
    @Test
    void unsignedLimitsAreAcceptedAsLarge() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().discard(0xFFFF_FFFF, 0xFFFF_FFFF).writeZeroes(0xFFFF_FFFF, 0xFFFF_FFFF);
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options());
             VirtioBlkChannel ch = blk.openChannel()) {
            Completions.sync(ch).unmap(0, 2 << 20);
            Completions.sync(ch).writeZeroes(0, 2 << 20);
            List<Request> reqs = sim.requests();
            assertEquals(2, reqs.size(), reqs.toString());
            assertEquals(List.of(new Range(0, 4096, 0)), reqs.get(0).ranges());
            assertEquals(List.of(new Range(0, 4096, 0)), reqs.get(1).ranges());
        }
    }

    @Test
    void missingFeaturesAreRefusedNamingTheFeature() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().withdraw(VIRTIO_BLK_F_FLUSH);
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options());
             VirtioBlkChannel ch = blk.openChannel()) {
            assertFalse(blk.supports(IoType.UNMAP));
            assertFalse(blk.supports(IoType.WRITE_ZEROES));
            assertFalse(blk.supports(IoType.FLUSH));
            Completions done = new Completions();
            assertMessage(assertThrows(BdevIoException.class, () -> ch.unmap(0, 4096, done, null)), "VIRTIO_BLK_F_DISCARD");
            assertMessage(assertThrows(BdevIoException.class, () -> ch.writeZeroes(0, 4096, done, null)), "VIRTIO_BLK_F_WRITE_ZEROES");
            assertMessage(assertThrows(BdevIoException.class, () -> ch.flush(done, null)), "VIRTIO_BLK_F_FLUSH");
            assertEquals(0, done.count());
            assertEquals(0, ch.inFlight());
            assertTrue(sim.requests().isEmpty(), "nothing reached the device: " + sim.requests());
        }
    }

    private static void assertMessage(BdevIoException e, String fragment) {
        assertTrue(e.getMessage().contains(fragment) && e.getMessage().contains("sim0"), e.getMessage());
    }

    /** Ranges of all requests are contiguous from firstSector, cover sectors in total, and respect the limits. */
    private static void assertRanges(List<Request> reqs, int type, long firstSector, long sectors, int maxSectors, int maxSegs) {
        List<Range> all = new ArrayList<>();
        for (Request r : reqs) {
            assertEquals(type, r.type(), r.toString());
            assertEquals(VIRTIO_BLK_S_OK, r.status(), r.toString());
            assertTrue(r.segments().size() == 1 && r.segments().getFirst() == r.ranges().size() * DWZ_SIZE,
                    "one buffer holding the segment table: " + r);
            assertTrue(!r.ranges().isEmpty() && r.ranges().size() <= maxSegs, "1.." + maxSegs + " segments: " + r);
            all.addAll(r.ranges());
        }
        long next = firstSector;
        for (Range g : all) {
            assertEquals(next, g.sector(), "contiguous: " + all);
            assertTrue(g.numSectors() > 0 && g.numSectors() <= maxSectors, "segment within max sectors: " + g);
            assertEquals(0, g.flags(), g.toString());
            next += g.numSectors();
        }
        assertEquals(firstSector + sectors, next, "sectors covered");
    }

    /** [offset, offset+length) is zero on the disk and every other byte of the first 64 KiB is as before. */
    private static void assertZeroedExactly(SimulatedBlkBackend sim, byte[] before, int offset, int length) {
        byte[] after = sim.diskBytes(0, before.length);
        for (int i = 0; i < before.length; i++) {
            byte expected = i >= offset && i < offset + length ? 0 : before[i];
            if (after[i] != expected) {
                fail("byte " + i + " is 0x" + Integer.toHexString(after[i] & 0xff) + ", expected 0x" + Integer.toHexString(expected & 0xff));
            }
        }
    }
}
