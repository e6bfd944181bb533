package io.jvirtio.core.pci;

import io.jvirtio.core.DeviceException;
import io.jvirtio.core.VirtioBackendOps;

import java.util.Locale;

/**
 * Which virtio device a PCI function is (virtio 1.2 4.1.2: vendor 0x1af4, device id 0x1040 + virtio id, or a
 * transitional id 0x1000..0x103f with the virtio id in the subsystem id), so that a driver is not run on a
 * function of another type: SPDK's probe skips such a function, jvirtio says what it is and what to use instead.
 */
public final class VirtioPciDeviceType {
    /** The virtio PCI vendor id (Red Hat, Inc.). */
    public static final int VENDOR_ID = 0x1af4;
    /** A modern virtio device id is this plus the virtio device id. */
    public static final int MODERN_DEVICE_ID_BASE = 0x1040;
    /** Transitional device ids: 0x1000 ..= 0x103f. */
    public static final int TRANSITIONAL_FIRST = 0x1000;
    /** Last transitional device id. */
    public static final int TRANSITIONAL_LAST = 0x103f;
    /** Modern device ids end here (virtio ids are below 0x40). */
    public static final int MODERN_LAST = 0x107f;
    /** virtio device id of a block device. */
    public static final int VIRTIO_ID_BLOCK = 2;
    /** virtio device id of a SCSI host. */
    public static final int VIRTIO_ID_SCSI = 8;

    static final int CFG_VENDOR_ID = 0x00;
    static final int CFG_DEVICE_ID = 0x02;
    static final int CFG_SUBSYSTEM_ID = 0x2e;

    private VirtioPciDeviceType() {
    }

    /** @return the virtio device id of {@code function}, or -1 when it is not a virtio function */
    public static int virtioId(PciFunction function) {
        if (function.readConfig16(CFG_VENDOR_ID) != VENDOR_ID) {
            return -1;
        }
        int device = function.readConfig16(CFG_DEVICE_ID);
        if (device >= MODERN_DEVICE_ID_BASE && device <= MODERN_LAST) {
            return device - MODERN_DEVICE_ID_BASE;
        }
        if (device >= TRANSITIONAL_FIRST && device <= TRANSITIONAL_LAST) {
            return function.readConfig16(CFG_SUBSYSTEM_ID);
        }
        return -1;
    }

    /**
     * Checks the function behind a virtio-pci transport before a driver runs on it; any other transport passes.
     *
     * @param expected {@link #VIRTIO_ID_BLOCK} or {@link #VIRTIO_ID_SCSI}
     * @throws DeviceException naming the function, what it is and what to attach it as
     */
    public static void require(VirtioBackendOps transport, int expected) {
        if (transport instanceof VirtioPciTransport pci) {
            require(pci.function(), expected);
        }
    }

    /** @throws DeviceException when {@code function} is not a virtio device of type {@code expected} */
    public static void require(PciFunction function, int expected) {
        int id = virtioId(function);
        if (id == expected) {
            return;
        }
        String ids = String.format(Locale.ROOT, "PCI id %04x:%04x", function.readConfig16(CFG_VENDOR_ID),
                function.readConfig16(CFG_DEVICE_ID));
        if (id < 0) {
            throw new DeviceException(function.address() + " is not a virtio device (" + ids + "); a " + name(expected)
                    + " function was expected (vendor 1af4, device " + String.format(Locale.ROOT, "%04x",
                    MODERN_DEVICE_ID_BASE + expected) + ")");
        }
        String what = "a " + name(id) + " device (" + ids + ", virtio id " + id + ")";
        String instead = switch (id) {
            case VIRTIO_ID_BLOCK -> "; attach it as blk (dev_type \"blk\", VirtioBlkDevice.attachPci)";
            case VIRTIO_ID_SCSI -> "; attach it as scsi (dev_type \"scsi\", VirtioScsiController.attachPci)";
            default -> "";
        };
        throw new DeviceException(function.address() + " is " + what + ", not " + name(expected) + instead);
    }

    /** @return {@code virtio-blk}, {@code virtio-scsi}, or {@code virtio device type N} */
    public static String name(int virtioId) {
        return switch (virtioId) {
            case VIRTIO_ID_BLOCK -> "virtio-blk";
            case VIRTIO_ID_SCSI -> "virtio-scsi";
            default -> "virtio device type " + virtioId;
        };
    }
}
