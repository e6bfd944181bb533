package io.jvirtio.blk;

import io.jvirtio.blk.SimulatedBlkBackend.Request;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.MemorySegment;
import java.util.List;

import static io.jvirtio.core.testing.BlkPatterns.*;
import static io.jvirtio.spec.blk.VirtioBlkSpec.*;
import static org.junit.jupiter.api.Assertions.*;

/** One caller I/O becomes as many virtio requests as the device's seg_max, size_max and queue size demand. */
class BlkSplittingTest {

    @Test
    void sizeMaxAndSegMaxSplitA64KiBWrite() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().sizeMax(4096).segMax(4);
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options());
             VirtioBlkChannel ch = blk.openChannel()) {
            MemorySegment buf = blk.allocateBuffer(64 << 10, 4096);
            fill(buf, 11);
            Completions.sync(ch).write(buf, 4096);
            List<Request> reqs = sim.requests();
            assertEquals(4, reqs.size(), "64 KiB in requests of 4 x 4096: " + reqs);
            assertContiguous(reqs, VIRTIO_BLK_T_OUT, 4096 / SECTOR_SIZE, 64 << 10, 4, 4096);
            assertSameBytes(bytes(buf), sim.diskBytes(4096, 64 << 10), "disk");

            sim.clearRequests();
            MemorySegment back = blk.allocateBuffer(64 << 10, 4096);
            Completions.sync(ch).read(back, 4096);
            assertContiguous(sim.requests(), VIRTIO_BLK_T_IN, 4096 / SECTOR_SIZE, 64 << 10, 4, 4096);
            assertSameBytes(bytes(buf), bytes(back), "read back");
        }
    }

    @Test
    void writevOfMoreIovecsThanSegMax() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().segMax(4);
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options());
             VirtioBlkChannel ch = blk.openChannel()) {
            MemorySegment[] iovs = iovecs(blk, 18, 1024);
            Completions.sync(ch).writev(iovs, iovs.length, 0);
            List<Request> reqs = sim.requests();
            assertEquals(5, reqs.size(), "18 iovecs, 4 per request: " + reqs);
            assertContiguous(reqs, VIRTIO_BLK_T_OUT, 0, 18 * 1024, 4, 1024);
            assertEquals(List.of(1024, 1024), reqs.getLast().segments());
            assertIovecsOnDisk(sim, iovs, 0);
        }
    }

    /** Without INDIRECT a request's chain must fit the ring: 8 descriptors leave 6 for data. */
    @Test
    void queueSmallerThanTheIoWithoutIndirect() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().sizeMax(4096);
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options().withQueueSize(8));
             VirtioBlkChannel ch = blk.openChannel()) {
            MemorySegment buf = blk.allocateBuffer(64 << 10, 4096);
            fill(buf, 12);
            Completions.sync(ch).write(buf, 0);
            List<Request> reqs = sim.requests();
            assertContiguous(reqs, VIRTIO_BLK_T_OUT, 0, 64 << 10, 6, 4096);
            assertEquals(3, reqs.size(), "16 segments, 6 per request: " + reqs);
            assertSameBytes(bytes(buf), sim.diskBytes(0, 64 << 10), "disk");

            MemorySegment[] iovs = iovecs(blk, 20, 512);
            Completions.sync(ch).writev(iovs, iovs.length, 1 << 20);
            assertIovecsOnDisk(sim, iovs, 1 << 20);
        }
    }

    /**
     * With INDIRECT a request takes one ring slot, but the spec still caps its chain at the queue size:
     * iovecs beyond that must be split, never refused.
     */
    @ParameterizedTest(name = "queue {0}, {1} iovecs")
    @CsvSource({"8,20", "16,64", "64,100", "256,300"})
    void longChainsGoThroughWithIndirect(int queueSize, int iovcnt) {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().indirect();
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options().withQueueSize(queueSize));
             VirtioBlkChannel ch = blk.openChannel()) {
            MemorySegment[] iovs = iovecs(blk, iovcnt, 512);
            Completions.sync(ch).writev(iovs, iovcnt, 0);
            List<Request> reqs = sim.requests();
            assertContiguous(reqs, VIRTIO_BLK_T_OUT, 0, (long) iovcnt * 512, queueSize - 2, 512);
            assertIovecsOnDisk(sim, iovs, 0);

            MemorySegment[] back = iovecs(blk, iovcnt, 512);
            for (MemorySegment b : back) {
                b.fill((byte) 0);
            }
            Completions.sync(ch).readv(back, iovcnt, 0);
            for (int i = 0; i < iovcnt; i++) {
                assertSameBytes(bytes(iovs[i]), bytes(back[i]), "readv iov " + i);
            }
        }
    }

    /** With INDIRECT and a small ring, the first requests of one I/O fill the ring and the rest wait their turn. */
    @Test
    void indirectRequestsOfOneIoQueueBehindEachOther() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().indirect().sizeMax(512).autoProcess(false);
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options().withQueueSize(4));
             VirtioBlkChannel ch = blk.openChannel()) {
            MemorySegment buf = blk.allocateBuffer(32 << 10, 4096); // 64 segments of 512, 2 per request
            fill(buf, 13);
            Completions done = new Completions();
            assertTrue(ch.write(buf, 0, done, "w"));
            done.await(ch, sim, 1);
            assertNull(done.errorOf("w"));
            assertContiguous(sim.requests(), VIRTIO_BLK_T_OUT, 0, 32 << 10, 2, 512);
            assertSameBytes(bytes(buf), sim.diskBytes(0, 32 << 10), "disk");
        }
    }

    static MemorySegment[] iovecs(VirtioBlkDevice blk, int n, int size) {
        MemorySegment[] iovs = new MemorySegment[n];
        for (int i = 0; i < n; i++) {
            iovs[i] = blk.allocateBuffer(size, 512);
            fill(iovs[i], 100 + i);
        }
        return iovs;
    }

    static void assertIovecsOnDisk(SimulatedBlkBackend sim, MemorySegment[] iovs, long offset) {
        long pos = offset;
        for (int i = 0; i < iovs.length; i++) {
            assertSameBytes(bytes(iovs[i]), sim.diskBytes(pos, (int) iovs[i].byteSize()), "iov " + i + " on disk");
            pos += iovs[i].byteSize();
        }
    }

    /** Requests of {@code type} cover [firstSector, +bytes) in order, each within the segment limits. */
    static void assertContiguous(List<Request> reqs, int type, long firstSector, long bytes, int maxSegs, int maxSegBytes) {
        long sector = firstSector;
        long total = 0;
        for (Request r : reqs) {
            assertEquals(type, r.type(), r.toString());
            assertEquals(sector, r.sector(), "requests are contiguous: " + reqs);
            assertTrue(r.segments().size() <= maxSegs, "at most " + maxSegs + " segments: " + r);
            assertFalse(r.segments().isEmpty(), r.toString());
            for (int len : r.segments()) {
                assertTrue(len > 0 && len <= maxSegBytes && len % SECTOR_SIZE == 0, "segment of " + len + " in " + r);
            }
            assertEquals(VIRTIO_BLK_S_OK, r.status(), r.toString());
            sector += r.dataBytes() / SECTOR_SIZE;
            total += r.dataBytes();
        }
        assertEquals(bytes, total, "bytes covered by " + reqs.size() + " requests");
    }
}
