package io.jvirtio.blk;

import io.jvirtio.core.DriverOptions;
import io.jvirtio.core.ReconnectPolicy;
import io.jvirtio.core.RingType;
import io.jvirtio.core.mem.HugePagePolicy;

/**
 * How to attach a virtio-blk device. Defaults follow SPDK's {@code bdev_virtio_attach_controller}:
 * one request queue of 512 descriptors.
 *
 * @param requestQueues request queues to create (SPDK's {@code vq_count}); one channel per queue
 * @param queueSize     descriptors per queue (SPDK's {@code vq_size}), a power of two
 * @param channelDepth  I/Os one channel accepts before a submit returns false; 0 = the queue size
 * @param hugePages     how the memory the device sees is backed (when jvirtio creates it)
 * @param memoryBytes   size of the memory domain jvirtio creates for the device (rings, request headers, I/O buffers)
 * @param reconnect     what happens when the target goes away (SPDK's ctrlr_loss_timeout_sec and friends)
 * @param ringType      the ring format to negotiate (default {@link RingType#AUTO}: packed when the device offers it)
 */
public record VirtioBlkOptions(int requestQueues, int queueSize, int channelDepth, HugePagePolicy hugePages,
                               long memoryBytes, ReconnectPolicy reconnect, RingType ringType) implements DriverOptions<VirtioBlkOptions> {
    /** SPDK's default {@code vq_size}. */
    public static final int DEFAULT_QUEUE_SIZE = 512;
    /** Default memory domain: rings and headers for a few queues plus room for I/O buffers. */
    public static final long DEFAULT_MEMORY_BYTES = 64L << 20;

    public VirtioBlkOptions {
        DriverOptions.check(requestQueues, queueSize, channelDepth, hugePages, memoryBytes);
        java.util.Objects.requireNonNull(reconnect, "reconnect");
        java.util.Objects.requireNonNull(ringType, "ringType");
    }

    /** Options with the default ring format ({@link RingType#AUTO}). */
    public VirtioBlkOptions(int requestQueues, int queueSize, int channelDepth, HugePagePolicy hugePages, long memoryBytes,
                            ReconnectPolicy reconnect) {
        this(requestQueues, queueSize, channelDepth, hugePages, memoryBytes, reconnect, RingType.AUTO);
    }

    /** Options without a reconnect policy ({@link ReconnectPolicy#NONE}). */
    public VirtioBlkOptions(int requestQueues, int queueSize, int channelDepth, HugePagePolicy hugePages, long memoryBytes) {
        this(requestQueues, queueSize, channelDepth, hugePages, memoryBytes, ReconnectPolicy.NONE);
    }

    /** @return these options with the given reconnect policy */
    public VirtioBlkOptions withReconnect(ReconnectPolicy policy) {
        return new VirtioBlkOptions(requestQueues, queueSize, channelDepth, hugePages, memoryBytes, policy, ringType);
    }

    /** @return one queue of 512, hugepages when available, 64 MiB of device memory */
    public static VirtioBlkOptions defaults() {
        return new VirtioBlkOptions(1, DEFAULT_QUEUE_SIZE, 0, HugePagePolicy.AUTO, DEFAULT_MEMORY_BYTES);
    }

    /** @return these options with {@code n} request queues */
    @Override
    public VirtioBlkOptions withRequestQueues(int n) {
        return new VirtioBlkOptions(n, queueSize, channelDepth, hugePages, memoryBytes, reconnect, ringType);
    }

    /** @return these options with queues of {@code size} descriptors */
    @Override
    public VirtioBlkOptions withQueueSize(int size) {
        return new VirtioBlkOptions(requestQueues, size, channelDepth, hugePages, memoryBytes, reconnect, ringType);
    }

    /** @return these options with {@code depth} I/Os per channel */
    public VirtioBlkOptions withChannelDepth(int depth) {
        return new VirtioBlkOptions(requestQueues, queueSize, depth, hugePages, memoryBytes, reconnect, ringType);
    }

    /** @return these options with the given hugepage policy */
    public VirtioBlkOptions withHugePages(HugePagePolicy policy) {
        return new VirtioBlkOptions(requestQueues, queueSize, channelDepth, policy, memoryBytes, reconnect, ringType);
    }

    /** @return these options with a memory domain of {@code bytes} */
    public VirtioBlkOptions withMemoryBytes(long bytes) {
        return new VirtioBlkOptions(requestQueues, queueSize, channelDepth, hugePages, bytes, reconnect, ringType);
    }

    /** @return these options with the given ring format */
    @Override
    public VirtioBlkOptions withRingType(RingType type) {
        return new VirtioBlkOptions(requestQueues, queueSize, channelDepth, hugePages, memoryBytes, reconnect, type);
    }
}
