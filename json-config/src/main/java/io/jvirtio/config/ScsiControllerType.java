package io.jvirtio.config;

import io.jvirtio.core.VirtioBackendOps;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.vhostuser.VhostUserOptions;
import io.jvirtio.scsi.VirtioScsiController;
import io.jvirtio.scsi.VirtioScsiOptions;

/**
 * {@code dev_type scsi}: one {@link VirtioScsiController} per controller, one bdev per LUN found by the
 * scan ({@code <name>t<T>}, {@code <name>t<T>l<L>}; SPDK's {@code bdev_virtio_user_scsi_dev_create}).
 * {@code vq_count} is the number of request queues; the control and event queues (and a scan queue when
 * the device has one to spare) come on top. vhost-user now; {@code trtype pci} is refused at validation
 * until the VFIO transport exists. The controller runs an event thread, so hot-plugged and removed LUNs
 * show up in its bdev list. The reconnect params ({@code ctrlr_loss_timeout_sec} and friends) apply as for
 * blk; after a reconnect every target is rescanned.
 */
public final class ScsiControllerType extends VhostUserControllerType<VirtioScsiOptions> {
    /** SPDK's dev_type for virtio-scsi. */
    public static final String DEV_TYPE = "scsi";
    /** {@link VirtioScsiOptions} needs at least this many descriptors per queue. */
    static final int MIN_VQ_SIZE = 4;

    /** {@link VirtioScsiOptions#defaults()} with an event thread, {@link VhostUserOptions#defaults()}. */
    public ScsiControllerType() {
        this(VirtioScsiOptions.defaults().withEventThread(), VhostUserOptions.defaults());
    }

    /**
     * @param baseOptions      memory, hugepage policy, scan and event settings for every controller; request
     *                         queues and queue size come from each controller's params
     * @param vhostUserOptions timeouts and protocol features of the vhost-user connection
     */
    public ScsiControllerType(VirtioScsiOptions baseOptions, VhostUserOptions vhostUserOptions) {
        super(DEV_TYPE, baseOptions, vhostUserOptions);
    }

    @Override
    public void validate(ControllerParams params) {
        super.validate(params);
        if (params.vqSize() < MIN_VQ_SIZE) {
            throw new ConfigException(JsonPath.of("vq_size"), params.vqSize() + " is too small for dev_type scsi (at least "
                    + MIN_VQ_SIZE + " descriptors per queue)");
        }
    }

    @Override
    VirtioScsiOptions withParams(VirtioScsiOptions options, ControllerParams params) {
        return options.withReconnect(params.reconnect());
    }

    @Override
    Controller attachDriver(String name, VirtioBackendOps ops, MemoryDomain memory, VirtioScsiOptions options) {
        return new ScsiController(VirtioScsiController.attach(name, ops, memory, true, options));
    }
}
