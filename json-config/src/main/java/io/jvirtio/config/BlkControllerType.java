package io.jvirtio.config;

import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.VirtioBackendOps;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.vhostuser.VhostUserOptions;

/**
 * {@code dev_type blk}: one {@link VirtioBlkDevice} per controller, its bdev named as the controller
 * (SPDK's {@code bdev_virtio_user_blk_dev_create}). vhost-user now; {@code trtype pci} is refused at
 * validation until the VFIO transport exists.
 */
public final class BlkControllerType extends VhostUserControllerType<VirtioBlkOptions> {
    /** SPDK's dev_type for virtio-blk. */
    public static final String DEV_TYPE = "blk";

    /** SPDK's defaults for what the params do not set: {@link VirtioBlkOptions#defaults()}, {@link VhostUserOptions#defaults()}. */
    public BlkControllerType() {
        this(VirtioBlkOptions.defaults(), VhostUserOptions.defaults());
    }

    /**
     * @param baseOptions      memory size, hugepage policy, channel depth for every controller; request
     *                         queues and queue size come from each controller's params
     * @param vhostUserOptions timeouts and protocol features of the vhost-user connection
     */
    public BlkControllerType(VirtioBlkOptions baseOptions, VhostUserOptions vhostUserOptions) {
        super(DEV_TYPE, baseOptions, vhostUserOptions);
    }

    @Override
    VirtioBlkOptions withParams(VirtioBlkOptions options, ControllerParams params) {
        return options.withReconnect(params.reconnect());
    }

    @Override
    Controller attachDriver(String name, VirtioBackendOps ops, MemoryDomain memory, VirtioBlkOptions options) {
        return new BlkController(VirtioBlkDevice.attach(name, ops, memory, true, options));
    }
}
