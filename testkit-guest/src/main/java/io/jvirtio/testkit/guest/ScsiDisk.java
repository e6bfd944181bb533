package io.jvirtio.testkit.guest;

import java.nio.file.Path;
import java.util.Objects;

/**
 * One {@code scsi-hd} disk on an emulated {@code virtio-scsi-pci} controller
 * ({@link LinuxGuest.Builder#virtioScsi(String, int, java.util.List)}): a raw image file at a
 * target (SCSI id) and LUN. In the guest it shows up as {@code /sys/class/scsi_disk/H:0:TARGET:LUN}.
 *
 * @param image      the raw image file
 * @param target     the SCSI target id (0..255)
 * @param lun        the LUN (0..16383)
 * @param extraProps more {@code scsi-hd} properties, comma-separated ({@code logical_block_size=4096,serial=x}),
 *                   or empty
 */
public record ScsiDisk(Path image, int target, int lun, String extraProps) {
    /** Checks the ranges. */
    public ScsiDisk {
        Objects.requireNonNull(image, "image");
        Objects.requireNonNull(extraProps, "extraProps");
        if (target < 0 || target > 255) {
            throw new IllegalArgumentException("SCSI target " + target + " out of 0..255");
        }
        if (lun < 0 || lun > 16383) {
            throw new IllegalArgumentException("LUN " + lun + " out of 0..16383");
        }
    }

    /**
     * @param image  the raw image file
     * @param target the SCSI target id
     * @param lun    the LUN
     * @return a disk with QEMU's defaults (512-byte blocks)
     */
    public static ScsiDisk of(Path image, int target, int lun) {
        return new ScsiDisk(image, target, lun, "");
    }

    /**
     * @param props more {@code scsi-hd} properties, comma-separated
     * @return this disk with those properties
     */
    public ScsiDisk with(String props) {
        return new ScsiDisk(image, target, lun, extraProps.isEmpty() ? props : extraProps + "," + props);
    }
}
