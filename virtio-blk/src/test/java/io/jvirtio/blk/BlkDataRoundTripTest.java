package io.jvirtio.blk;

import io.jvirtio.bdev.SyncIo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

import static io.jvirtio.core.testing.BlkPatterns.*;
import static io.jvirtio.spec.blk.VirtioBlkSpec.*;
import static org.junit.jupiter.api.Assertions.*;

/** Data goes to the right place byte for byte: checked through the device and on the RAM disk itself. */
class BlkDataRoundTripTest {

    /** Both ring flavours that change the descriptor layout or the kick rules must carry the same bytes. */
    @ParameterizedTest(name = "indirect={0} eventIdx={1}")
    @CsvSource({"false,false", "true,false", "false,true", "true,true"})
    void writeThenReadMatchesTheDisk(boolean indirect, boolean eventIdx) {
        SimulatedBlkBackend sim = new SimulatedBlkBackend();
        if (indirect) {
            sim.indirect();
        }
        if (eventIdx) {
            sim.eventIdx();
        }
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options());
             VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = Completions.sync(ch);
            MemorySegment out = blk.allocateBuffer(64 << 10, 4096);
            MemorySegment in = blk.allocateBuffer(64 << 10, 4096);
            int[] sizes = {512, 4096, 12288, 65536};
            long[] offsets = {0, 512, 1 << 20, sim.disk().byteSize() - 65536};
            for (int i = 0; i < sizes.length; i++) {
                MemorySegment o = out.asSlice(0, sizes[i]);
                MemorySegment r = in.asSlice(0, sizes[i]);
                fill(o, 1000 + i);
                io.write(o, offsets[i]);
                assertSameBytes(bytes(o), sim.diskBytes(offsets[i], sizes[i]), "disk after write " + i);
                io.read(r, offsets[i]);
                assertSameBytes(bytes(o), bytes(r), "read back " + i);
            }
            assertEquals(0, ch.inFlight());
        }
    }

    @Test
    void readSeesWhatIsOnTheDiskAndVectoredIoScattersInOrder() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend();
        fill(sim.disk().asSlice(8192, 8192), 7);
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options());
             VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = Completions.sync(ch);
            // Uneven iovecs: 512 + 4096 + 3584 = 8192
            MemorySegment[] iovs = {blk.allocateBuffer(512, 512), blk.allocateBuffer(4096, 4096), blk.allocateBuffer(3584, 512)};
            io.readv(iovs, 3, 8192);
            byte[] expected = sim.diskBytes(8192, 8192);
            byte[] got = new byte[8192];
            int pos = 0;
            for (MemorySegment s : iovs) {
                System.arraycopy(bytes(s), 0, got, pos, (int) s.byteSize());
                pos += (int) s.byteSize();
            }
            assertSameBytes(expected, got, "readv");

            for (int i = 0; i < iovs.length; i++) {
                fill(iovs[i], 50 + i);
            }
            io.writev(iovs, 3, 65536);
            assertSameBytes(bytes(iovs[0]), sim.diskBytes(65536, 512), "writev iov 0");
            assertSameBytes(bytes(iovs[1]), sim.diskBytes(65536 + 512, 4096), "writev iov 1");
            assertSameBytes(bytes(iovs[2]), sim.diskBytes(65536 + 4608, 3584), "writev iov 2");
        }
    }

    @Test
    void flushAndGetIdReachTheDevice() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend();
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options());
             VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = Completions.sync(ch);
            io.flush();
            assertEquals(1, sim.flushes());
            MemorySegment id = blk.allocateBuffer(VIRTIO_BLK_ID_BYTES, 8);
            io.run("get_id", 0, (cb, ctx) -> ch.getId(id, cb, ctx));
            String serial = new String(bytes(id), StandardCharsets.US_ASCII).replace("\0", "");
            assertEquals(SimulatedBlkBackend.SERIAL, serial);
            assertEquals(VIRTIO_BLK_T_GET_ID, sim.requests().getLast().type());
        }
    }

    @Test
    void capacityAndBlockSizeComeFromTheConfig() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend(16384).blkSize(4096);
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options())) {
            assertEquals(4096, blk.blockSize());
            assertEquals(16384L * 512 / 4096, blk.blockCount());
            assertEquals("sim", blk.device().backend().transportType());
        }
    }
}
