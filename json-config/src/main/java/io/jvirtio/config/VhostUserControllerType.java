package io.jvirtio.config;

import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.vhostuser.VhostUserAttach;
import io.jvirtio.core.vhostuser.VhostUserOptions;

import java.util.Objects;

import static io.jvirtio.config.JsonObjectReader.quote;

/**
 * What the vhost-user controller types ({@link BlkControllerType}, {@link ScsiControllerType}) share:
 * their dev_type, the driver options every controller starts from, the vhost-user options, refusing
 * {@code trtype pci} until the VFIO transport exists, and attaching over the controller's socket with
 * its errors put where they belong. A socket that cannot be reached is reported against
 * {@code traddr}; a device that misbehaves during the driver's attach against the whole entry.
 *
 * @param <O> the driver's options ({@code VirtioBlkOptions}, {@code VirtioScsiOptions})
 */
abstract class VhostUserControllerType<O> implements ControllerType {
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
     * Connects to {@code params}' socket with a memory domain of the controller's own and runs the driver's attach;
     * on failure nothing stays open.
     *
     * @throws ConfigException against {@code traddr}, naming the controller and the socket, when the memory or the
     *                         connection cannot be had
     */
    final <T> T attachOverSocket(ControllerParams params, long memoryBytes, HugePagePolicy hugePages, VhostUserAttach.Driver<T> driver) {
        return VhostUserAttach.attach(params.name(), params.socketPath(), memoryBytes, hugePages, vhostUserOptions,
                e -> new ConfigException(JsonPath.of("traddr"), quote(params.traddr()) + ": cannot attach " + params.name()
                        + ": " + e.getMessage(), e),
                driver);
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + baseOptions + "]";
    }
}
