package io.jvirtio.config;

import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.vhostuser.VhostUserAttach;
import io.jvirtio.core.vhostuser.VhostUserOptions;

import static io.jvirtio.config.JsonObjectReader.quote;

/**
 * What the vhost-user controller types ({@link BlkControllerType}, {@link ScsiControllerType}) share:
 * refusing {@code trtype pci} until the VFIO transport exists, and attaching over the controller's
 * socket with its errors put where they belong. A socket that cannot be reached is reported against
 * {@code traddr}; a device that misbehaves during the driver's attach against the whole entry.
 */
final class VhostUserAttachStep {
    private VhostUserAttachStep() {
    }

    /** @throws ConfigException against {@code trtype} when it is {@code pci} */
    static void refusePci(ControllerParams params, String devType) {
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
    static <T> T attach(ControllerParams params, long memoryBytes, HugePagePolicy hugePages, VhostUserOptions options,
                        VhostUserAttach.Driver<T> driver) {
        return VhostUserAttach.attach(params.name(), params.socketPath(), memoryBytes, hugePages, options,
                e -> new ConfigException(JsonPath.of("traddr"), quote(params.traddr()) + ": cannot attach " + params.name()
                        + ": " + e.getMessage(), e),
                driver);
    }
}
