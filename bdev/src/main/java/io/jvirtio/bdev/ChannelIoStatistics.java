package io.jvirtio.bdev;

/**
 * The I/O statistics of one open channel of a {@link Bdev} (SPDK's {@code bdev_get_iostat} with
 * {@code per_channel}).
 *
 * @param threadId   the id ({@link Thread#threadId()}) of the thread that opened the channel, its owner
 * @param threadName that thread's name when the channel was opened
 * @param statistics what the channel counted
 */
public record ChannelIoStatistics(long threadId, String threadName, IoStatistics statistics) {
}
