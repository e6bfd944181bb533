package io.jvirtio.bench.device;

import java.lang.foreign.MemorySegment;

/**
 * All of this process's memory as one segment, offset = address. The in-process devices read the
 * driver's buffers through it by address, as a vhost-user back-end does through its mapping of the
 * front-end's memory, without making a segment per buffer (which would be the device's allocation,
 * charged to the benchmark thread because the device runs on it).
 */
public final class DeviceMemory {
    /** Every address; needs {@code --enable-native-access}. */
    public static final MemorySegment ALL = everything();

    private DeviceMemory() {
    }

    @SuppressWarnings("restricted") // a device reads what the driver's descriptors point at, wherever that is
    private static MemorySegment everything() {
        return MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
    }
}
