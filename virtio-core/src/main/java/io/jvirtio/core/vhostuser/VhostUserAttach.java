package io.jvirtio.core.vhostuser;

import io.jvirtio.core.DriverAttach;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.spec.VirtioException;

import java.nio.file.Path;
import java.util.function.Function;

/**
 * Attaching a driver over vhost-user, the one way every caller does it (SPDK's
 * {@code bdev_virtio_user_*_dev_create}): create a memory domain for the device, connect to the
 * back-end with it, hand both to the driver's attach. On any failure nothing stays open: the
 * transport is destructed and the domain closed (both idempotent, so a driver that already closed
 * them on its own failure path is fine).
 */
public final class VhostUserAttach {
    private VhostUserAttach() {
    }


    /**
     * Connects to the back-end on {@code socket} with a memory domain of its own and attaches {@code driver}.
     *
     * @param name        names the domain and its memfds (the device name)
     * @param socket      the back-end's unix socket
     * @param memoryBytes the domain's first region
     * @param hugePages   how the domain is backed
     * @param options     timeouts, retries, protocol features
     * @param driver      the driver's attach
     * @throws VirtioException naming the socket when it cannot be reached or the back-end misbehaves,
     *                         or whatever the driver's attach throws
     */
    public static <T> T attach(String name, Path socket, long memoryBytes, HugePagePolicy hugePages, VhostUserOptions options,
                               DriverAttach<T> driver) {
        return attach(name, socket, memoryBytes, hugePages, options, e -> e, driver);
    }

    /**
     * As {@link #attach(String, Path, long, HugePagePolicy, VhostUserOptions, DriverAttach)}, with a failure to create the
     * memory or to connect (before the driver runs) turned into the caller's error, e.g. one that names a config param.
     *
     * @param connectFailure maps a failure before the driver runs; the driver's own failures pass unchanged
     */
    public static <T> T attach(String name, Path socket, long memoryBytes, HugePagePolicy hugePages, VhostUserOptions options,
                               Function<? super VirtioException, ? extends RuntimeException> connectFailure, DriverAttach<T> driver) {
        MemoryDomain memory;
        VhostUserFrontend transport;
        try {
            memory = MemoryDomain.create(name, memoryBytes, hugePages);
            try {
                transport = VhostUserFrontend.connect(socket, memory, options);
            } catch (RuntimeException e) {
                memory.close();
                throw e;
            }
        } catch (VirtioException e) {
            throw connectFailure.apply(e);
        }
        try {
            return driver.attach(transport, memory);
        } catch (RuntimeException e) {
            closeAfter(e, transport, memory);
            throw e;
        }
    }

    private static void closeAfter(RuntimeException failure, VhostUserFrontend transport, MemoryDomain memory) {
        try {
            transport.destruct();
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        }
        try {
            memory.close();
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        }
    }
}
