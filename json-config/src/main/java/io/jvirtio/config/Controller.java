package io.jvirtio.config;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.core.VirtioDevice;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One attached virtio controller (SPDK's virtio-blk device or virtio-scsi controller) and the bdevs
 * it exposes: one for blk, one per LUN for scsi. Made by a {@link ControllerType}; owned by the
 * {@link BdevRegistry} it was attached through, which closes it on detach.
 */
public interface Controller extends AutoCloseable {
    /** @return the controller name ({@code params.name} of {@code bdev_virtio_attach_controller}) */
    String name();

    /** @return {@code blk} or {@code scsi} */
    String devType();

    /** @return the bdevs, at least one, in the order SPDK's attach result lists them */
    List<? extends Bdev> bdevs();

    /**
     * @return the params save_config writes for this controller, from what was actually attached:
     *         {@code vq_count} counts request queues only, {@code vq_size} is the size the queues got
     */
    ControllerParams configParams();

    /**
     * @return the controller's {@code virtio} object as SPDK dumps it, e.g. {@code vq_count} (all queues,
     *         fixed scsi queues included), {@code vq_size}, {@code type}, {@code socket} / {@code pci_address}
     */
    Map<String, Object> virtioInfo();

    /** @return the virtio device behind the controller (for its link events), when there is one */
    default Optional<VirtioDevice> device() {
        return Optional.empty();
    }

    /** Detaches: stops the queues, closes the transport and frees the device memory. Idempotent. */
    @Override
    void close();
}
