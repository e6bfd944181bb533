package io.jvirtio.backend.guest;

import io.jvirtio.testkit.guest.LinuxGuest;

import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

/**
 * What {@link GuestStorageChecks} needs from a storage peer: something that serves a disk (or a
 * SCSI controller with LUNs) backed by a given image file and attaches it to a guest. The
 * qemu-storage-daemon peer, QEMU's emulated virtio-scsi and (once it exists) the Java target each
 * implement these, so that the same guest checks run against all of them.
 */
final class GuestTargets {
    private GuestTargets() {
    }

    /**
     * One virtio-blk disk to serve.
     *
     * @param image            a raw image file of exactly {@code capacity} bytes (the peer must use its whole size)
     * @param capacity         the capacity in bytes
     * @param logicalBlockSize 512 or 4096
     * @param numQueues        request queues to offer
     * @param discard          whether the device offers discard (the check then requires it in the guest)
     */
    record BlkDisk(Path image, long capacity, int logicalBlockSize, int numQueues, boolean discard) {
    }

    /**
     * One LUN of a virtio-scsi controller.
     *
     * @param target           the SCSI target id
     * @param lun              the LUN
     * @param image            a raw image file of exactly {@code capacity} bytes
     * @param capacity         the capacity in bytes
     * @param logicalBlockSize 512 or 4096
     */
    record ScsiLun(int target, int lun, Path image, long capacity, int logicalBlockSize) {
    }

    /** A started peer: attaches its device to a guest, and stops when closed (after the guest has exited). */
    interface Attached extends AutoCloseable {
        /** Adds the device (and whatever it needs, e.g. a chardev) to the guest under the id it was started with. */
        void attach(LinuxGuest.Builder guest);

        @Override
        void close();

        /**
         * @param resource what {@link #close()} closes (a daemon, a target), or {@code null}
         * @param attach   how to add the device to a guest
         * @return the pair
         */
        static Attached of(AutoCloseable resource, Consumer<LinuxGuest.Builder> attach) {
            return new Attached() {
                @Override
                public void attach(LinuxGuest.Builder guest) {
                    attach.accept(guest);
                }

                @Override
                public void close() {
                    if (resource != null) {
                        try {
                            resource.close();
                        } catch (Exception e) {
                            throw new IllegalStateException("closing " + resource + " failed", e);
                        }
                    }
                }
            };
        }
    }

    /** Serves virtio-blk disks: vhost-user-blk on a unix socket, or anything else a guest can attach. */
    @FunctionalInterface
    interface BlkTargetFactory {
        /**
         * Starts serving {@code disk} and returns how to attach it. For a vhost-user peer: listen on a
         * socket (e.g. in {@code workDir}), return {@code Attached.of(target, g -> g.vhostUserBlk(id, socket, disk.numQueues()))}.
         *
         * @param id      the guest device id to attach it under
         * @param disk    what to serve
         * @param workDir a temporary directory for sockets and the like
         * @return the started peer
         * @throws Exception when it cannot start
         */
        Attached start(String id, BlkDisk disk, Path workDir) throws Exception;
    }

    /** Serves a virtio-scsi controller with LUNs. */
    @FunctionalInterface
    interface ScsiTargetFactory {
        /**
         * Starts a controller with {@code luns} and returns how to attach it. For a vhost-user peer:
         * {@code Attached.of(target, g -> g.vhostUserScsi(id, socket, numQueues))}.
         *
         * @param id        the guest device id
         * @param luns      the LUNs (several targets, several LUNs each)
         * @param numQueues request queues
         * @param discard   whether the LUNs support UNMAP (the check then requires discard in the guest)
         * @param workDir   a temporary directory
         * @return the started peer
         * @throws Exception when it cannot start
         */
        Attached start(String id, List<ScsiLun> luns, int numQueues, boolean discard, Path workDir) throws Exception;
    }
}
