package io.jvirtio.bdev.driver;

import io.jvirtio.bdev.IoType;

import java.util.Map;
import java.util.Objects;

/**
 * What the argument rules of one bdev depend on: the parts that differ between devices, as data,
 * so that one {@link IoValidator} serves every driver. Fixed for the life of the bdev; what can
 * change (capacity, write protection, closed state) is passed with each check.
 *
 * @param name              the bdev name every message starts with
 * @param blockSize         the logical block size: offsets and lengths are multiples of it
 * @param iovGranularity    every iovec's length is a non-zero multiple of this (virtio-blk: 512,
 *                          the unit of its sectors; SCSI: 1, transfers are counted in blocks only)
 * @param memory            the memory the device can reach
 * @param memoryOwner       who owns that memory, for messages: {@code device}, {@code controller}
 * @param deviceDescription the device as "... refused, X is closed" names it: {@code the device}
 * @param readOnlyReason    why writes are refused, for messages: {@code read-only (VIRTIO_BLK_F_RO)}
 * @param unsupported       the I/O types the device does not offer, each with the sentence saying
 *                          why (it follows "bdev NAME: ")
 */
public record BdevLimits(String name, int blockSize, int iovGranularity, DeviceMemory memory, String memoryOwner,
                         String deviceDescription, String readOnlyReason, Map<IoType, String> unsupported) {
    /** Checks the sizes and takes an immutable copy of {@code unsupported}. */
    public BdevLimits {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(memory, "memory");
        if (blockSize <= 0 || iovGranularity <= 0) {
            throw new IllegalArgumentException("bdev " + name + ": block size " + blockSize + " and iovec granularity "
                    + iovGranularity + " must be positive");
        }
        unsupported = Map.copyOf(unsupported);
    }
}
