package io.jvirtio.bdev;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A block device a storage engine programs against (SPDK's {@code spdk_bdev}): a virtio-blk disk or
 * one virtio-scsi LUN. I/O goes through {@link IoChannel}s, one per thread, each owning one request
 * queue of the device. Buffers handed to I/O calls must come from {@link #allocateBuffer} (the
 * device can only reach that memory).
 */
public interface Bdev {
    /** @return the bdev name, e.g. {@code VirtioBlk0} */
    String name();

    /** @return SPDK's product name, e.g. {@code VirtioBlk Disk} */
    String productName();

    /** @return the logical block size in bytes */
    int blockSize();

    /** @return the capacity in logical blocks */
    long blockCount();

    /** @return whether writes are refused */
    boolean readOnly();

    /** @return the I/O types this bdev executes */
    Set<IoType> supportedIoTypes();

    /** @return whether {@code type} is supported */
    default boolean supports(IoType type) {
        return supportedIoTypes().contains(type);
    }

    /** @return the number of channels that can be open at once (request queues) */
    int maxChannels();

    /**
     * Opens a channel bound to the calling thread and one free request queue.
     *
     * @throws BdevIoException when every request queue is taken
     */
    IoChannel openChannel();

    /**
     * Allocates zeroed I/O buffer memory the device can reach (SPDK's {@code spdk_dma_zmalloc}).
     * Setup-time call: allocate once, reuse for many I/Os.
     *
     * @param size      bytes
     * @param alignment a power of two (at least the block size is a good choice)
     */
    MemorySegment allocateBuffer(long size, long alignment);

    /** Returns a buffer from {@link #allocateBuffer}. */
    void freeBuffer(MemorySegment buffer);

    /** @return SPDK's {@code driver_specific} object for {@code bdev_get_bdevs} */
    Map<String, Object> driverSpecificInfo();

    /**
     * Sums the I/O statistics of every channel this bdev had, open or closed (SPDK's
     * {@code bdev_get_iostat}). Any thread may call it at any time; I/O goes on meanwhile. Not for
     * the hot path: it allocates the snapshot.
     *
     * @return an immutable snapshot; a bdev that does not count answers an empty one
     */
    default IoStatistics ioStatistics() {
        return IoStatistics.empty(name());
    }

    /**
     * The statistics of each open channel, in the order they were opened (closed channels count
     * only in {@link #ioStatistics()}). Any thread; not for the hot path.
     *
     * @return one entry per open channel; empty for a bdev that does not count
     */
    default List<ChannelIoStatistics> channelIoStatistics() {
        return List.of();
    }
}
