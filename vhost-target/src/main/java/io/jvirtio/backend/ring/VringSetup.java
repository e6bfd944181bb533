package io.jvirtio.backend.ring;

/**
 * What the front-end told the device about one ring before starting it (SET_VRING_NUM,
 * SET_VRING_BASE, SET_VRING_ADDR) plus the negotiated ring features.
 *
 * @param index     the queue index
 * @param size      the queue size (a power of two)
 * @param descUva   the descriptor table, a front-end user address
 * @param availUva  the avail (driver) ring, a front-end user address
 * @param usedUva   the used (device) ring, a front-end user address
 * @param base      the avail index to start from (SET_VRING_BASE)
 * @param eventIdx  whether VIRTIO_RING_F_EVENT_IDX was negotiated
 * @param indirect  whether VIRTIO_RING_F_INDIRECT_DESC was negotiated
 * @param packed    whether VIRTIO_F_RING_PACKED was negotiated: then availUva is the driver area, usedUva the
 *                  device area, and base carries the slot in bits 0..14 and the wrap counter in bit 15
 */
public record VringSetup(int index, int size, long descUva, long availUva, long usedUva, int base, boolean eventIdx,
                         boolean indirect, boolean packed) {
    /** A split ring's setup. */
    public VringSetup(int index, int size, long descUva, long availUva, long usedUva, int base, boolean eventIdx, boolean indirect) {
        this(index, size, descUva, availUva, usedUva, base, eventIdx, indirect, false);
    }
}
