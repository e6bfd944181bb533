package io.jvirtio.core;

import io.jvirtio.core.mem.HugePagePolicy;

import java.util.Objects;

/**
 * What the attach options of every driver (virtio-blk, virtio-scsi) have in common: the request
 * queues and their size (SPDK's {@code vq_count} and {@code vq_size}), the depth of a channel, and
 * the memory domain jvirtio creates for the device, the ring format. Config loaders set the queues per controller
 * through this interface; each driver's record adds its own settings.
 *
 * @param <O> the driver's options record
 */
public interface DriverOptions<O extends DriverOptions<O>> {
    /** @return request queues to create (SPDK's {@code vq_count}) */
    int requestQueues();

    /** @return descriptors per queue (SPDK's {@code vq_size}), a power of two */
    int queueSize();

    /** @return I/Os one channel accepts before a submit returns false; 0 = the queue size */
    int channelDepth();

    /** @return how the memory the device sees is backed (when jvirtio creates it) */
    HugePagePolicy hugePages();

    /** @return size of the memory domain jvirtio creates for the device */
    long memoryBytes();

    /** @return the ring format to negotiate ({@link RingType#AUTO}: packed when the device offers it) */
    RingType ringType();

    /** @return these options with the given ring format */
    O withRingType(RingType ringType);

    /** @return these options with {@code n} request queues */
    O withRequestQueues(int n);

    /** @return these options with queues of {@code size} descriptors */
    O withQueueSize(int size);

    /**
     * The checks every driver's options make, with one set of messages.
     *
     * @throws IllegalArgumentException naming the field and the value
     */
    static void check(int requestQueues, int queueSize, int channelDepth, HugePagePolicy hugePages, long memoryBytes) {
        if (requestQueues < 1) {
            throw new IllegalArgumentException("requestQueues " + requestQueues + " must be at least 1");
        }
        if (queueSize < 4 || queueSize > 32768 || Integer.bitCount(queueSize) != 1) {
            // 4: a blk read or write takes three descriptors (header, data, status) without indirect tables
            throw new IllegalArgumentException("queueSize " + queueSize + " must be a power of two from 4 to 32768");
        }
        if (channelDepth < 0) {
            throw new IllegalArgumentException("channelDepth " + channelDepth + " must not be negative");
        }
        Objects.requireNonNull(hugePages, "hugePages");
        if (memoryBytes <= 0) {
            throw new IllegalArgumentException("memoryBytes " + memoryBytes + " must be positive");
        }
    }
}
