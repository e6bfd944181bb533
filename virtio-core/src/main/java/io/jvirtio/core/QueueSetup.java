package io.jvirtio.core;

/**
 * What a transport needs to start one split virtqueue: the device addresses of its three parts
 * (process virtual addresses for vhost-user, IOVAs for VFIO) and where to resume.
 *
 * @param index        the queue index
 * @param size         the number of descriptors, a power of two
 * @param descAddress  the descriptor table
 * @param availAddress the driver (avail) ring
 * @param usedAddress  the device (used) ring
 * @param availIndex   the avail index the device starts from (vhost-user SET_VRING_BASE)
 */
public record QueueSetup(int index, int size, long descAddress, long availAddress, long usedAddress, int availIndex) {
}
