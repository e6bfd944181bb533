package io.jvirtio.core;

/**
 * What a transport needs to start one virtqueue: the device addresses of its three parts (process
 * virtual addresses for vhost-user, IOVAs for VFIO), where to resume and the ring format.
 *
 * @param index        the queue index
 * @param size         the number of descriptors
 * @param descAddress  the descriptor table (split) or descriptor ring (packed)
 * @param availAddress the driver area: avail ring (split) or driver event suppression (packed)
 * @param usedAddress  the device area: used ring (split) or device event suppression (packed)
 * @param availIndex   the ring base the device starts from (vhost-user SET_VRING_BASE): split, the avail
 *                     index; packed, the slot with the wrap counter in bit 15 ({@code 0x8000} for a new ring)
 * @param packed       whether the queue is a packed ring (VIRTIO_F_RING_PACKED negotiated)
 */
public record QueueSetup(int index, int size, long descAddress, long availAddress, long usedAddress, int availIndex,
                         boolean packed) {
    /** A split ring's setup. */
    public QueueSetup(int index, int size, long descAddress, long availAddress, long usedAddress, int availIndex) {
        this(index, size, descAddress, availAddress, usedAddress, availIndex, false);
    }

    /** @return the base of a ring no device has touched: 0 split, slot 0 with wrap counter 1 packed */
    public int freshBase() {
        return packed ? 1 << io.jvirtio.spec.ring.PackedRingLayout.RING_EVENT_WRAP_SHIFT : 0;
    }
}
