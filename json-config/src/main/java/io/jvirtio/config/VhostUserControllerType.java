package io.jvirtio.config;

import io.jvirtio.core.DriverOptions;
import io.jvirtio.core.VirtioBackendOps;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.vhostuser.VhostUserAttach;
import io.jvirtio.core.vhostuser.VhostUserOptions;

import java.util.Objects;

import static io.jvirtio.config.JsonObjectReader.quote;

/**
 * What the vhost-user controller types ({@link BlkControllerType}, {@link ScsiControllerType}) share:
 * their dev_type, the driver options every controller starts from, the vhost-user options, refusing
 * {@code trtype pci} until the VFIO transport exists, and attaching over the controller's socket with
 * its errors put where they belong; a type supplies only its driver's attach. A socket that cannot be reached is reported against
 * {@code traddr}; a device that misbehaves during the driver's attach against the whole entry.
 *
 * @param <O> the driver's options ({@code VirtioBlkOptions}, {@code VirtioScsiOptions})
 */
abstract class VhostUserControllerType<O extends DriverOptions<O>> implements ControllerType {
    private final String devType;
    /** memory, hugepage policy and driver settings for every controller; queues come from each controller's params */
    final O baseOptions;
    private final VhostUserOptions vhostUserOptions;

    VhostUserControllerType(String devType, O baseOptions, VhostUserOptions vhostUserOptions) {
        this.devType = devType;
        this.baseOptions = Objects.requireNonNull(baseOptions, "baseOptions");
        this.vhostUserOptions = Objects.requireNonNull(vhostUserOptions, "vhostUserOptions");
    }

    @Override
    public final String devType() {
        return devType;
    }

    /** @throws ConfigException against {@code trtype} when it is {@code pci} */
    @Override
    public void validate(ControllerParams params) {
        if (params.trtype() == Transport.PCI) {
            throw new ConfigException(JsonPath.of("trtype"), "\"pci\" is not available yet for dev_type " + devType
                    + " (jvirtio has no virtio-pci/VFIO transport yet); use \"user\" with a vhost-user socket");
        }
    }

    /**
     * Validates {@code params}, connects to its socket with a memory domain of the controller's own and
     * runs the driver's attach with the base options and the controller's queues; on failure nothing
     * stays open.
     *
     * @throws ConfigException against {@code traddr}, naming the controller and the socket, when the memory or the
     *                         connection cannot be had
     */
    @Override
    public final Controller attach(ControllerParams params) {
        validate(params);
        O options = withParams(baseOptions.withRequestQueues(params.vqCount()).withQueueSize(params.vqSize()), params);
        return VhostUserAttach.attach(params.name(), params.socketPath(), options.memoryBytes(), options.hugePages(), vhostUserOptions,
                e -> new ConfigException(JsonPath.of("traddr"), quote(params.traddr()) + ": cannot attach " + params.name()
                        + ": " + e.getMessage(), e),
                (ops, memory) -> attachDriver(params.name(), ops, memory, options));
    }

    /** The driver's own params beyond queues (blk and scsi: the reconnect policy); none by default. */
    O withParams(O options, ControllerParams params) {
        return options;
    }

    /**
     * The driver's attach over a connected transport; the controller owns {@code ops} and {@code memory}
     * from now on.
     */
    abstract Controller attachDriver(String name, VirtioBackendOps ops, MemoryDomain memory, O options);

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + baseOptions + "]";
    }
}
