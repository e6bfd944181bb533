package io.jvirtio.config;

import io.jvirtio.core.DriverOptions;
import io.jvirtio.core.VirtioBackendOps;
import io.jvirtio.core.mem.MemoryDomain;

import java.util.Objects;

/**
 * What the virtio controller types ({@link BlkControllerType}, {@link ScsiControllerType}) share: their
 * dev_type, the driver options every controller starts from, one {@link TransportAttachStep} per trtype, and
 * the queues each trtype gets. A type supplies only its driver's attach.
 *
 * <ul>
 *   <li>{@code trtype user}: {@code vq_count} request queues of {@code vq_size} (SPDK's defaults 1 and 512).</li>
 *   <li>{@code trtype pci}: as in SPDK the device decides; one request queue for each it has, of the base
 *       options' queue size cut to the device's largest.</li>
 * </ul>
 * A device that cannot be reached is reported against {@code traddr}; a device that misbehaves during the
 * driver's attach against the whole entry.
 *
 * @param <O> the driver's options ({@code VirtioBlkOptions}, {@code VirtioScsiOptions})
 */
abstract class VirtioControllerType<O extends DriverOptions<O>> implements ControllerType {
    private final String devType;
    /** memory, hugepage policy and driver settings for every controller; queues come from each controller's params */
    final O baseOptions;
    private final TransportAttachStep user;
    private final TransportAttachStep pci;

    VirtioControllerType(String devType, O baseOptions, TransportAttachStep user, TransportAttachStep pci) {
        this.devType = devType;
        this.baseOptions = Objects.requireNonNull(baseOptions, "baseOptions");
        this.user = Objects.requireNonNull(user, "user");
        this.pci = Objects.requireNonNull(pci, "pci");
    }

    @Override
    public final String devType() {
        return devType;
    }

    /**
     * Validates {@code params} and attaches over its transport with a memory domain of the controller's own;
     * on failure nothing stays open.
     *
     * @throws ConfigException against {@code traddr}, naming the controller and the socket or PCI address, when the
     *                         memory or the transport cannot be had
     */
    @Override
    public final Controller attach(ControllerParams params) {
        validate(params);
        O base = withParams(baseOptions, params);
        return switch (params.trtype()) {
            case USER -> {
                O options = base.withRequestQueues(params.vqCount()).withQueueSize(params.vqSize());
                yield user.attach(params, options.memoryBytes(), options.hugePages(),
                        (ops, memory) -> attachDriver(params.name(), ops, memory, options, false));
            }
            case PCI -> pci.attach(params, base.memoryBytes(), base.hugePages(),
                    (ops, memory) -> attachDriver(params.name(), ops, memory, base, true));
        };
    }

    /** The driver's own params beyond queues (blk and scsi: the reconnect policy); none by default. */
    O withParams(O options, ControllerParams params) {
        return options;
    }

    /**
     * The driver's attach over a connected transport; the controller owns {@code ops} and {@code memory}
     * from now on.
     *
     * @param deviceQueues one request queue for each the device has instead of {@code options}' count
     *                     ({@code trtype pci}); a PCI function is first checked to be of this type
     */
    abstract Controller attachDriver(String name, VirtioBackendOps ops, MemoryDomain memory, O options, boolean deviceQueues);

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + baseOptions + "]";
    }
}
