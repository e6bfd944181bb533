package io.jvirtio.bdev.driver;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.bdev.IoType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class IoValidatorTest {
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment domain = arena.allocate(1 << 20, 4096);
    private final DeviceMemory memory = s -> s.isNative() && s.address() >= domain.address()
            && s.address() + s.byteSize() <= domain.address() + domain.byteSize();

    private IoValidator blk() {
        return new IoValidator(new BdevLimits("blk0", 4096, 512, memory, "device", "the device", "read-only (VIRTIO_BLK_F_RO)",
                Map.of(IoType.FLUSH, "flush is not supported (VIRTIO_BLK_F_FLUSH not offered)")));
    }

    private IoValidator scsi() {
        return new IoValidator(new BdevLimits("scsi0t0", 512, 1, memory, "controller", "controller c0", "write-protected (MODE SENSE WP)",
                Map.of()));
    }

    @AfterEach
    void close() {
        arena.close();
    }

    @Test
    void stateChecksNameTheBdevAndTheReason() {
        IoValidator v = blk();
        assertRefused(Reason.CLOSED, "bdev blk0: write on a closed channel", () -> v.checkChannelOpen("write", true));
        assertRefused(Reason.QUEUE_BROKEN, "bdev blk0: read refused, queue q0 is broken: used idx ran ahead",
                () -> v.checkQueue("read", "q0", "used idx ran ahead"));
        assertRefused(Reason.CLOSED, "bdev blk0: flush refused, the device is closed", () -> v.checkDeviceOpen("flush", true));
        assertRefused(Reason.CLOSED, "bdev scsi0t0: read refused, controller c0 is closed", () -> scsi().checkDeviceOpen("read", true));
        assertDoesNotThrow(() -> {
            v.checkChannelOpen("write", false);
            v.checkQueue("write", "q0", null);
            v.checkDeviceOpen("write", false);
        });
    }

    @Test
    void unsupportedAndReadOnly() {
        IoValidator v = blk();
        assertRefused(Reason.UNSUPPORTED, "bdev blk0: flush is not supported (VIRTIO_BLK_F_FLUSH not offered)",
                () -> v.checkSupported(IoType.FLUSH));
        assertDoesNotThrow(() -> v.checkSupported(IoType.UNMAP));
        assertRefused(Reason.READ_ONLY, "bdev blk0 is read-only (VIRTIO_BLK_F_RO): unmap at offset 8192 refused",
                () -> v.checkWritable("unmap", 8192, true));
        assertRefused(Reason.READ_ONLY, "bdev scsi0t0 is write-protected (MODE SENSE WP): write at offset 0 refused",
                () -> scsi().checkWritable("write", 0, true));
        assertDoesNotThrow(() -> v.checkWritable("write", 0, false));
    }

    @Test
    void iovecGranularityIsTheDevicesRule() {
        MemorySegment[] odd = {domain.asSlice(0, 4096), domain.asSlice(4096, 100)};
        assertRefused(Reason.INVALID_ARGUMENT, "bdev blk0: writev iov[1] is 100 bytes, not a non-zero multiple of 512",
                () -> blk().checkIovs("writev", odd, 2));
        assertEquals(4196, scsi().checkIovs("writev", odd, 2), "SCSI takes any non-empty iovec");
        MemorySegment[] empty = {domain.asSlice(0, 0)};
        assertRefused(Reason.INVALID_ARGUMENT, "bdev scsi0t0: read iov[0] is empty", () -> scsi().checkIovs("read", empty, 1));
        assertRefused(Reason.INVALID_ARGUMENT, "bdev blk0: read iov[0] is 0 bytes, not a non-zero multiple of 512",
                () -> blk().checkIovs("read", empty, 1));
    }

    @Test
    void iovcntAndMemoryDomain() {
        MemorySegment[] two = {domain.asSlice(0, 4096), domain.asSlice(4096, 4096)};
        assertRefused(Reason.INVALID_ARGUMENT, "bdev blk0: readv with iovcnt 3 of an array of 2", () -> blk().checkIovs("readv", two, 3));
        assertRefused(Reason.INVALID_ARGUMENT, "bdev blk0: readv with iovcnt 0 of an array of 2", () -> blk().checkIovs("readv", two, 0));
        assertRefused(Reason.INVALID_ARGUMENT, "bdev blk0: readv with iovcnt 1 of an array of 0", () -> blk().checkIovs("readv", null, 1));
        assertEquals(8192, blk().checkIovs("readv", two, 2));
        MemorySegment heap = MemorySegment.ofArray(new byte[4096]);
        BdevIoException e = assertThrows(BdevIoException.class, () -> scsi().checkIov("read", heap, 0));
        assertEquals(Reason.INVALID_ARGUMENT, e.reason());
        assertEquals("bdev scsi0t0: read iov[0] at 0x0 (4096 bytes) is not in the controller's memory domain; "
                + "allocate I/O buffers with Bdev.allocateBuffer", e.getMessage());
        assertRefused(Reason.INVALID_ARGUMENT, "bdev blk0: get_id iov[0] is empty", () -> blk().checkBuffer("get_id", domain.asSlice(0, 0)));
        assertDoesNotThrow(() -> blk().checkBuffer("get_id", domain.asSlice(0, 20)));
    }

    @Test
    void rangeIsBlockAlignedAndInsideTheCapacity() {
        IoValidator v = blk();
        String aligned = " must be non-negative, non-empty multiples of the block size 4096";
        assertRefused(Reason.INVALID_ARGUMENT, "bdev blk0: read offset 512 length 4096" + aligned, () -> v.checkRange("read", 512, 4096, 1 << 20));
        assertRefused(Reason.INVALID_ARGUMENT, "bdev blk0: read offset 0 length 512" + aligned, () -> v.checkRange("read", 0, 512, 1 << 20));
        assertRefused(Reason.INVALID_ARGUMENT, "bdev blk0: read offset -4096 length 4096" + aligned, () -> v.checkRange("read", -4096, 4096, 1 << 20));
        assertRefused(Reason.INVALID_ARGUMENT, "bdev blk0: unmap offset 0 length 0" + aligned, () -> v.checkRange("unmap", 0, 0, 1 << 20));
        assertRefused(Reason.INVALID_ARGUMENT, "bdev blk0: write of 8192 bytes at offset 1044480 ends past the capacity of 1048576 bytes",
                () -> v.checkRange("write", (1 << 20) - 4096, 8192, 1 << 20));
        assertRefused(Reason.INVALID_ARGUMENT, "bdev blk0: write of 4096 bytes at offset 9223372036854771712 ends past the capacity of 1048576 bytes",
                () -> v.checkRange("write", Long.MAX_VALUE - 4095, 4096, 1 << 20));
        assertDoesNotThrow(() -> v.checkRange("write", (1 << 20) - 4096, 4096, 1 << 20));
    }

    @Test
    void tooFragmented() {
        BdevIoException e = blk().tooFragmented("writev", 0, 2, 2);
        assertEquals(Reason.INVALID_ARGUMENT, e.reason());
        assertEquals("bdev blk0: writev at offset 0: 2 data segments (seg_max 2) of these iovecs do not cover one 4096-byte block; "
                + "use fewer, larger iovecs", e.getMessage());
    }

    private static void assertRefused(Reason reason, String message, Executable check) {
        BdevIoException e = assertThrows(BdevIoException.class, check);
        assertEquals(message, e.getMessage());
        assertEquals(reason, e.reason());
    }
}
