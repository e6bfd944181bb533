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
 */
public record VringSetup(int index, int size, long descUva, long availUva, long usedUva, int base, boolean eventIdx,
                         boolean indirect) {
}
