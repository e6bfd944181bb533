package io.jvirtio.core.pci;

import io.jvirtio.core.DeviceException;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Optional;

import static io.jvirtio.core.pci.VirtioPciDeviceType.*;
import static org.junit.jupiter.api.Assertions.*;

/** The virtio id of a function from its PCI ids (modern and transitional), and the error for the wrong type. */
class VirtioPciDeviceTypeTest {
    /** Config space only: vendor, device and subsystem ids. */
    private record IdsOnly(PciAddress address, ByteBuffer cfg) implements PciFunction {
        static IdsOnly of(int vendor, int device, int subsystem) {
            ByteBuffer b = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
            b.putShort(CFG_VENDOR_ID, (short) vendor).putShort(CFG_DEVICE_ID, (short) device).putShort(CFG_SUBSYSTEM_ID, (short) subsystem);
            return new IdsOnly(PciAddress.parse("0000:00:06.0"), b);
        }

        @Override public int configSize() { return 256; }
        @Override public int readConfig8(int offset) { return cfg.get(offset) & 0xff; }
        @Override public int readConfig16(int offset) { return cfg.getShort(offset) & 0xffff; }
        @Override public int readConfig32(int offset) { return cfg.getInt(offset); }
        @Override public void writeConfig16(int offset, int value) { throw new UnsupportedOperationException(); }
        @Override public Optional<PciBar> bar(int index) { return Optional.empty(); }
        @Override public boolean supportsReset() { return false; }
        @Override public void reset() { throw new UnsupportedOperationException(); }
        @Override public void close() { }
    }

    @Test
    void modernAndTransitionalIdsGiveTheVirtioId() {
        assertEquals(VIRTIO_ID_BLOCK, virtioId(IdsOnly.of(0x1af4, 0x1042, 0)));
        assertEquals(VIRTIO_ID_SCSI, virtioId(IdsOnly.of(0x1af4, 0x1048, 0)));
        assertEquals(VIRTIO_ID_BLOCK, virtioId(IdsOnly.of(0x1af4, 0x1001, 2)), "transitional: the subsystem id says");
        assertEquals(-1, virtioId(IdsOnly.of(0x8086, 0x1042, 0)), "another vendor");
        assertEquals(-1, virtioId(IdsOnly.of(0x1af4, 0x1110, 0)), "ivshmem, not virtio");
        assertDoesNotThrow(() -> require(IdsOnly.of(0x1af4, 0x1048, 0), VIRTIO_ID_SCSI));
    }

    @Test
    void theWrongTypeNamesTheFunctionWhatItIsAndWhatToUse() {
        DeviceException e = assertThrows(DeviceException.class, () -> require(IdsOnly.of(0x1af4, 0x1048, 0), VIRTIO_ID_BLOCK));
        assertEquals("0000:00:06.0 is a virtio-scsi device (PCI id 1af4:1048, virtio id 8), not virtio-blk;"
                + " attach it as scsi (dev_type \"scsi\", VirtioScsiController.attachPci)", e.getMessage());
        e = assertThrows(DeviceException.class, () -> require(IdsOnly.of(0x8086, 0x10d3, 0), VIRTIO_ID_SCSI));
        assertEquals("0000:00:06.0 is not a virtio device (PCI id 8086:10d3); a virtio-scsi function was expected"
                + " (vendor 1af4, device 1048)", e.getMessage());
    }
}
