package io.jvirtio.config;

import io.jvirtio.core.VirtioBackendOps;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.spec.pci.VirtioPciSpec;
import io.jvirtio.core.pci.VirtioPciOptions;
import io.jvirtio.core.vfio.VfioOptions;
import io.jvirtio.core.vhostuser.VhostUserOptions;
import io.jvirtio.scsi.VirtioScsiController;
import io.jvirtio.scsi.VirtioScsiOptions;

/**
 * {@code dev_type scsi}: one {@link VirtioScsiController} per controller, one bdev per LUN found by the
 * scan ({@code <name>t<T>}, {@code <name>t<T>l<L>}; SPDK's {@code bdev_virtio_user_scsi_dev_create} and
 * {@code bdev_virtio_pci_scsi_dev_create}). With {@code trtype user}, {@code vq_count} is the number of request
 * queues; the control and event queues (and a scan queue when the device has one to spare) come on top. With
 * {@code trtype pci} every request queue of the device is used (no scan queue is kept). The controller runs an
 * event thread, so hot-plugged and removed LUNs show up in its bdev list. The reconnect params
 * ({@code ctrlr_loss_timeout_sec} and friends) apply as for blk; after a reconnect every target is rescanned.
 */
public final class ScsiControllerType extends VirtioControllerType<VirtioScsiOptions> {
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
        this(baseOptions, vhostUserOptions, VfioOptions.defaults(), VirtioPciOptions.defaults());
    }

    /**
     * @param baseOptions      memory, hugepage policy, scan and event settings for every controller; for
     *                         {@code trtype pci} also the largest queue size (cut to the device's)
     * @param vhostUserOptions timeouts and protocol features of the vhost-user connection
     * @param vfioOptions      where VFIO and sysfs are, how BARs are reached ({@code trtype pci})
     * @param pciOptions       virtio-pci transport settings ({@code trtype pci})
     */
    public ScsiControllerType(VirtioScsiOptions baseOptions, VhostUserOptions vhostUserOptions, VfioOptions vfioOptions,
                              VirtioPciOptions pciOptions) {
        this(baseOptions, new VhostUserAttachStep(vhostUserOptions), new PciAttachStep(vfioOptions, pciOptions.withVirtioId(VirtioPciSpec.VIRTIO_ID_SCSI)));
    }

    /** With the transport steps given (tests: a PCI step without VFIO). */
    ScsiControllerType(VirtioScsiOptions baseOptions, TransportAttachStep user, TransportAttachStep pci) {
        super(DEV_TYPE, baseOptions, user, pci);
    }

    @Override
    public void validate(ControllerParams params) {
        if (params.trtype() == Transport.USER && params.vqSize() < MIN_VQ_SIZE) {
            throw new ConfigException(JsonPath.of("vq_size"), params.vqSize() + " is too small for dev_type scsi (at least "
                    + MIN_VQ_SIZE + " descriptors per queue)");
        }
    }

    @Override
    VirtioScsiOptions withParams(VirtioScsiOptions options, ControllerParams params) {
        return options.withReconnect(params.reconnect());
    }

    @Override
    Controller attachDriver(String name, VirtioBackendOps ops, MemoryDomain memory, VirtioScsiOptions options, boolean deviceQueues) {
        if (!deviceQueues) {
            return new ScsiController(VirtioScsiController.attach(name, ops, memory, true, options));
        }
        return new ScsiController(VirtioScsiController.attachWithDeviceQueues(name, ops, memory, true, options));
    }
}
