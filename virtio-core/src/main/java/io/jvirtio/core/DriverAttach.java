package io.jvirtio.core;

import io.jvirtio.core.mem.MemoryDomain;

/**
 * A driver's attach over a transport, as every transport's attach helper calls it (e.g.
 * {@code (ops, memory) -> VirtioBlkDevice.attach(name, ops, memory, true, options)}).
 *
 * @param <T> what the driver attaches: a bdev, a controller
 */
@FunctionalInterface
public interface DriverAttach<T> {
    /**
     * @param transport the connected transport; the driver owns it from now on
     * @param memory    the device's own memory domain; the driver owns it from now on
     * @return the attached device
     */
    T attach(VirtioBackendOps transport, MemoryDomain memory);
}
