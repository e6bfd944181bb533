package io.jvirtio.bdev.driver;

import java.lang.foreign.MemorySegment;

/**
 * The memory a device can reach (a driver's memory domain), as the argument checks see it. Must be
 * lock-free and allocation-free: every iovec of every I/O is checked against it.
 */
@FunctionalInterface
public interface DeviceMemory {
    /** @return whether the device can reach all of {@code segment} */
    boolean contains(MemorySegment segment);
}
