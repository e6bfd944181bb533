package io.jvirtio.config;

import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.VirtioBackendOps;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.spec.pci.VirtioPciSpec;
import io.jvirtio.core.pci.VirtioPciOptions;
import io.jvirtio.core.vfio.VfioOptions;
import io.jvirtio.core.vhostuser.VhostUserOptions;

/**
 * {@code dev_type blk}: one {@link VirtioBlkDevice} per controller, its bdev named as the controller
 * (SPDK's {@code bdev_virtio_user_blk_dev_create} and {@code bdev_virtio_pci_blk_dev_create}): over a
 * vhost-user socket ({@code trtype user}) or a virtio-blk PCI function bound to vfio-pci ({@code trtype pci},
 * every request queue the device has).
 */
public final class BlkControllerType extends VirtioControllerType<VirtioBlkOptions> {
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
        this(baseOptions, vhostUserOptions, VfioOptions.defaults(), VirtioPciOptions.defaults());
    }

    /**
     * @param baseOptions      memory size, hugepage policy, channel depth for every controller; for {@code trtype pci}
     *                         also the largest queue size (cut to the device's)
     * @param vhostUserOptions timeouts and protocol features of the vhost-user connection
     * @param vfioOptions      where VFIO and sysfs are, how BARs are reached ({@code trtype pci})
     * @param pciOptions       virtio-pci transport settings ({@code trtype pci})
     */
    public BlkControllerType(VirtioBlkOptions baseOptions, VhostUserOptions vhostUserOptions, VfioOptions vfioOptions,
                             VirtioPciOptions pciOptions) {
        this(baseOptions, new VhostUserAttachStep(vhostUserOptions), new PciAttachStep(vfioOptions, pciOptions.withVirtioId(VirtioPciSpec.VIRTIO_ID_BLOCK)));
    }

    /** With the transport steps given (tests: a PCI step without VFIO). */
    BlkControllerType(VirtioBlkOptions baseOptions, TransportAttachStep user, TransportAttachStep pci) {
        super(DEV_TYPE, baseOptions, user, pci);
    }

    @Override
    VirtioBlkOptions withParams(VirtioBlkOptions options, ControllerParams params) {
        return options.withReconnect(params.reconnect());
    }

    @Override
    Controller attachDriver(String name, VirtioBackendOps ops, MemoryDomain memory, VirtioBlkOptions options, boolean deviceQueues) {
        if (!deviceQueues) {
            return new BlkController(VirtioBlkDevice.attach(name, ops, memory, true, options));
        }
        return new BlkController(VirtioBlkDevice.attachWithDeviceQueues(name, ops, memory, true, options));
    }
}
