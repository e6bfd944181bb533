package io.jvirtio.blk;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.IoType;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.core.testing.RequiresQemuStorageDaemon;
import io.jvirtio.testkit.QemuStorageDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

import static io.jvirtio.core.testing.BlkPatterns.*;
import static org.junit.jupiter.api.Assertions.*;

/** A read-only export: VIRTIO_BLK_F_RO is negotiated, writes fail before reaching the device, reads work. */
@RequiresQemuStorageDaemon
class VirtioBlkReadOnlyTest {
    @TempDir
    Path dir;

    @Test
    void readOnlyExportRejectsWritesWithAClearError() throws Exception {
        Path image = dir.resolve("ro.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(8 << 20);
            f.seek(4096);
            byte[] pattern = new byte[4096];
            fill(MemorySegment.ofArray(pattern), 99);
            f.write(pattern);
        }
        try (QemuStorageDaemon qsd = QemuStorageDaemon.file(image).writable(false).start();
             VirtioBlkDevice blk = VirtioBlkDevice.connectVhostUser("ro0", qsd.socketPath(), VirtioBlkOptions.defaults());
             VirtioBlkChannel ch = blk.openChannel()) {
            assertTrue(blk.readOnly());
            assertFalse(blk.supports(IoType.WRITE));
            assertFalse(blk.supports(IoType.WRITE_ZEROES));
            assertFalse(blk.supports(IoType.UNMAP));
            MemorySegment buf = blk.allocateBuffer(4096, 4096);
            BdevIoException e = assertThrows(BdevIoException.class, () -> ch.write(buf, 0, (c, x) -> { }, null));
            assertTrue(e.getMessage().contains("read-only") && e.getMessage().contains("ro0"), e.getMessage());
            assertThrows(BdevIoException.class, () -> ch.writeZeroes(0, 4096, (c, x) -> { }, null));
            assertEquals(0, ch.inFlight(), "nothing reached the device");
            new SyncIo(ch).read(buf, 4096);
            assertSameBytes(readFile(image, 4096, 4096), bytes(buf), "read from a read-only export");
        }
    }
}
