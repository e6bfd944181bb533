package io.jvirtio.core;

import io.jvirtio.spec.VirtioFeatures;

/**
 * Which virtqueue format a driver asks for at feature negotiation. The request API is the same for
 * both ({@link io.jvirtio.core.ring.Virtqueue}); the choice only decides whether
 * {@code VIRTIO_F_RING_PACKED} is accepted.
 */
public enum RingType {
    /** Packed when the device offers {@code VIRTIO_F_RING_PACKED}, split otherwise (the default). */
    AUTO,
    /** Always the split ring: {@code VIRTIO_F_RING_PACKED} is never accepted. */
    SPLIT,
    /** Only the packed ring: a device that does not offer it is refused. */
    PACKED;

    /** @return the feature bits this choice lets the driver accept */
    public long features() {
        return this == SPLIT ? 0 : VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_RING_PACKED);
    }
}
