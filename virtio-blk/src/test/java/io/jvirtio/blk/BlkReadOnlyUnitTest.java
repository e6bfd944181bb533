package io.jvirtio.blk;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.IoType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.foreign.MemorySegment;

import static io.jvirtio.core.testing.BlkPatterns.*;
import static org.junit.jupiter.api.Assertions.*;

/** VIRTIO_BLK_F_RO: every writing call throws at submission; the device never sees one. Reads work. */
class BlkReadOnlyUnitTest {

    @Test
    void writesUnmapAndWriteZeroesNeverReachTheDevice() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().readOnly().discard(64, 4).writeZeroes(64, 4);
        fill(sim.disk().asSlice(0, 4096), 21);
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options());
             VirtioBlkChannel ch = blk.openChannel()) {
            assertTrue(blk.readOnly());
            assertFalse(blk.supports(IoType.WRITE) || blk.supports(IoType.UNMAP) || blk.supports(IoType.WRITE_ZEROES));
            assertTrue(blk.supports(IoType.READ));
            MemorySegment buf = blk.allocateBuffer(4096, 4096);
            Completions done = new Completions();
            assertReadOnly(() -> ch.write(buf, 0, done, null));
            assertReadOnly(() -> ch.writev(new MemorySegment[]{buf}, 1, 0, done, null));
            assertReadOnly(() -> ch.unmap(0, 4096, done, null));
            assertReadOnly(() -> ch.writeZeroes(0, 4096, done, null));
            assertEquals(0, ch.inFlight());
            assertEquals(0, done.count());
            assertTrue(sim.requests().isEmpty(), "the device saw nothing: " + sim.requests());

            Completions.sync(ch).read(buf, 0);
            assertSameBytes(sim.diskBytes(0, 4096), bytes(buf), "read on a read-only device");
        }
    }

    private static void assertReadOnly(Executable call) {
        BdevIoException e = assertThrows(BdevIoException.class, call);
        assertTrue(e.getMessage().contains("read-only (VIRTIO_BLK_F_RO)") && e.getMessage().contains("sim0"), e.getMessage());
    }
}
