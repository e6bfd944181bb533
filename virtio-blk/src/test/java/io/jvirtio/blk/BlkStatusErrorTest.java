package io.jvirtio.blk;

import io.jvirtio.spec.VirtioException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.MemorySegment;

import static io.jvirtio.core.testing.BlkPatterns.*;
import static io.jvirtio.spec.blk.VirtioBlkSpec.*;
import static org.junit.jupiter.api.Assertions.*;

/** Error status bytes reach the caller as errors naming status and sector; the channel carries on. */
class BlkStatusErrorTest {

    @ParameterizedTest(name = "status {0}")
    @CsvSource({"1,VIRTIO_BLK_S_IOERR", "2,VIRTIO_BLK_S_UNSUPP", "127,invalid status 0x7f"})
    void errorStatusFailsTheIoAndTheChannelKeepsWorking(int status, String name) {
        SimulatedBlkBackend sim = new SimulatedBlkBackend();
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options());
             VirtioBlkChannel ch = blk.openChannel()) {
            MemorySegment buf = blk.allocateBuffer(4096, 4096);
            fill(buf, 5);
            sim.failNext(status, 1);
            Completions done = new Completions();
            assertTrue(ch.write(buf, 16 * 512, done, "w"));
            done.await(ch, null, 1);
            assertErrorNames(done.expectError("w"), name, "VIRTIO_BLK_T_OUT", "sector 16");
            assertTrue(allZero(sim.diskBytes(16 * 512, 4096)), "the failed write was not executed");
            assertChannelStillWorks(sim, blk, ch);
        }
    }

    /** The driver pre-sets the status byte to 0xff: a device that never writes it is caught, not taken as OK. */
    @Test
    void statusNeverWritten() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend();
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options());
             VirtioBlkChannel ch = blk.openChannel()) {
            MemorySegment buf = blk.allocateBuffer(4096, 4096);
            sim.dropStatusNext(1);
            Completions done = new Completions();
            assertTrue(ch.read(buf, 8 * 512, done, "r"));
            done.await(ch, null, 1);
            assertErrorNames(done.expectError("r"), "did not write the status byte", "VIRTIO_BLK_T_IN", "sector 8");
            assertChannelStillWorks(sim, blk, ch);
        }
    }

    /** One failed part of a 16-request write: the write completes once, with that part's error. */
    @Test
    void aFailedPartFailsTheWholeIoExactlyOnce() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().sizeMax(4096).segMax(1);
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options());
             VirtioBlkChannel ch = blk.openChannel()) {
            MemorySegment buf = blk.allocateBuffer(64 << 10, 4096);
            sim.failWhen(r -> r.sector() == 48, VIRTIO_BLK_S_IOERR);
            Completions done = new Completions();
            assertTrue(ch.write(buf, 0, done, "w"));
            done.await(ch, null, 1);
            for (int i = 0; i < 100; i++) {
                ch.poll();
            }
            assertEquals(1, done.count(), "completed exactly once");
            assertErrorNames(done.expectError("w"), "VIRTIO_BLK_S_IOERR", "sector 48");
            assertEquals(16, sim.requests().size(), "all parts were already on the ring");
            assertEquals(0, ch.inFlight());
            sim.failWhen(r -> false, 0);
            assertChannelStillWorks(sim, blk, ch);
        }
    }

    /** On a small ring the parts go out in turns; after a part fails, the rest of the I/O is not submitted. */
    @Test
    void aFailedPartStopsTheRestOfAQueuedIo() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().sizeMax(4096).segMax(1).autoProcess(false);
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options().withQueueSize(8));
             VirtioBlkChannel ch = blk.openChannel()) {
            MemorySegment buf = blk.allocateBuffer(64 << 10, 4096);
            sim.failWhen(r -> r.sector() == 16, VIRTIO_BLK_S_IOERR);
            Completions done = new Completions();
            assertTrue(ch.write(buf, 0, done, "w"));
            MemorySegment other = blk.allocateBuffer(4096, 4096);
            assertTrue(ch.write(other, 1 << 20, done, "next"));
            done.await(ch, sim, 2);
            assertEquals(java.util.List.of("w", "next"), done.contexts, "each once, in order");
            assertErrorNames(done.expectError("w"), "VIRTIO_BLK_S_IOERR", "sector 16");
            assertNull(done.errorOf("next"), "the I/O queued behind the failed one still runs");
            long partsOfW = sim.requests().stream().filter(r -> r.sector() < 128).count();
            assertTrue(partsOfW < 16, "parts after the failure were not submitted: " + partsOfW + " of 16");
        }
    }

    private static void assertErrorNames(VirtioException e, String... fragments) {
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "'" + f + "' in: " + e.getMessage());
        }
        assertTrue(e.getMessage().contains("sim0"), e.getMessage());
    }

    private static void assertChannelStillWorks(SimulatedBlkBackend sim, VirtioBlkDevice blk, VirtioBlkChannel ch) {
        MemorySegment buf = blk.allocateBuffer(4096, 4096);
        fill(buf, 77);
        Completions.sync(ch).write(buf, 1 << 20);
        assertSameBytes(bytes(buf), sim.diskBytes(1 << 20, 4096), "a later write");
        assertEquals(0, ch.inFlight());
    }
}
