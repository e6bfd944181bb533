package io.jvirtio.scsi;

import io.jvirtio.core.DriverOptions;
import io.jvirtio.core.ReconnectPolicy;
import io.jvirtio.core.RingType;
import io.jvirtio.core.mem.HugePagePolicy;

import java.time.Duration;
import java.util.Objects;

/**
 * How to attach a virtio-scsi controller. Defaults follow SPDK's {@code bdev_virtio_attach_controller}:
 * one request queue of 512 descriptors, targets 0..max_target (0..63 without device config).
 *
 * @param requestQueues      request queues for I/O channels (SPDK's {@code vq_count}); one per thread
 * @param queueSize          descriptors per queue (SPDK's {@code vq_size}), a power of two; all queues, fixed ones too
 * @param channelDepth       I/Os one LUN channel accepts before a submit returns false; 0 = the queue size
 * @param hugePages          how the memory the device sees is backed (when jvirtio creates it)
 * @param memoryBytes        size of the memory domain jvirtio creates (rings, request headers, I/O buffers)
 * @param scanTargets        targets to scan (0..scanTargets-1); 0 = 0..max_target of the device config
 *                           (0..63, SPDK's {@code BDEV_VIRTIO_MAX_TARGET}, without config)
 * @param commandTimeout     how long one scan command or the blocking calls of the control path wait
 * @param eventPollPeriod    when positive, a daemon thread calls {@link VirtioScsiController#pollEvents()} at
 *                           this period; {@link Duration#ZERO} (the default): the embedding calls it
 * @param dedicatedScanQueue reserve one request queue beyond {@code requestQueues} for scans when the device
 *                           has one to spare (so a rescan never waits for an I/O thread's queue)
 * @param reconnect          what happens when the target goes away (SPDK's ctrlr_loss_timeout_sec and friends);
 *                           {@link ReconnectPolicy#NONE} by default: I/O fails at once
 * @param ringType           the ring format to negotiate (default {@link RingType#AUTO}: packed when offered)
 */
public record VirtioScsiOptions(int requestQueues, int queueSize, int channelDepth, HugePagePolicy hugePages,
                                long memoryBytes, int scanTargets, Duration commandTimeout, Duration eventPollPeriod,
                                boolean dedicatedScanQueue, ReconnectPolicy reconnect, RingType ringType)
        implements DriverOptions<VirtioScsiOptions> {
    /** SPDK's default {@code vq_size}. */
    public static final int DEFAULT_QUEUE_SIZE = 512;
    /** Default memory domain. */
    public static final long DEFAULT_MEMORY_BYTES = 64L << 20;
    /** Default timeout of one scan command. */
    public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(10);
    /** SPDK's management poller period ({@code MGMT_POLL_PERIOD_US}), for {@link #withEventThread()}. */
    public static final Duration SPDK_EVENT_POLL_PERIOD = Duration.ofMillis(5);

    public VirtioScsiOptions {
        DriverOptions.check(requestQueues, queueSize, channelDepth, hugePages, memoryBytes);
        if (scanTargets < 0 || scanTargets > 256) {
            throw new IllegalArgumentException("scanTargets " + scanTargets + " must be 0 (the device's max_target) or 1..256");
        }
        Objects.requireNonNull(commandTimeout, "commandTimeout");
        if (commandTimeout.isNegative() || commandTimeout.isZero()) {
            throw new IllegalArgumentException("commandTimeout " + commandTimeout + " must be positive");
        }
        Objects.requireNonNull(eventPollPeriod, "eventPollPeriod");
        if (eventPollPeriod.isNegative()) {
            throw new IllegalArgumentException("eventPollPeriod " + eventPollPeriod + " must not be negative");
        }
        Objects.requireNonNull(reconnect, "reconnect");
        Objects.requireNonNull(ringType, "ringType");
    }

    /** Options with the default ring format ({@link RingType#AUTO}). */
    public VirtioScsiOptions(int requestQueues, int queueSize, int channelDepth, HugePagePolicy hugePages, long memoryBytes,
                             int scanTargets, Duration commandTimeout, Duration eventPollPeriod, boolean dedicatedScanQueue,
                             ReconnectPolicy reconnect) {
        this(requestQueues, queueSize, channelDepth, hugePages, memoryBytes, scanTargets, commandTimeout, eventPollPeriod,
                dedicatedScanQueue, reconnect, RingType.AUTO);
    }

    /** Options without a reconnect policy ({@link ReconnectPolicy#NONE}). */
    public VirtioScsiOptions(int requestQueues, int queueSize, int channelDepth, HugePagePolicy hugePages, long memoryBytes,
                             int scanTargets, Duration commandTimeout, Duration eventPollPeriod, boolean dedicatedScanQueue) {
        this(requestQueues, queueSize, channelDepth, hugePages, memoryBytes, scanTargets, commandTimeout, eventPollPeriod,
                dedicatedScanQueue, ReconnectPolicy.NONE);
    }

    /** @return one request queue of 512, hugepages when available, 64 MiB, all targets, no event thread */
    public static VirtioScsiOptions defaults() {
        return new VirtioScsiOptions(1, DEFAULT_QUEUE_SIZE, 0, HugePagePolicy.AUTO, DEFAULT_MEMORY_BYTES, 0,
                DEFAULT_COMMAND_TIMEOUT, Duration.ZERO, true);
    }

    /** @return these options with {@code n} request queues */
    @Override
    public VirtioScsiOptions withRequestQueues(int n) {
        return new VirtioScsiOptions(n, queueSize, channelDepth, hugePages, memoryBytes, scanTargets, commandTimeout,
                eventPollPeriod, dedicatedScanQueue, reconnect, ringType);
    }

    /** @return these options with queues of {@code size} descriptors */
    @Override
    public VirtioScsiOptions withQueueSize(int size) {
        return new VirtioScsiOptions(requestQueues, size, channelDepth, hugePages, memoryBytes, scanTargets, commandTimeout,
                eventPollPeriod, dedicatedScanQueue, reconnect, ringType);
    }

    /** @return these options with {@code depth} I/Os per LUN channel */
    public VirtioScsiOptions withChannelDepth(int depth) {
        return new VirtioScsiOptions(requestQueues, queueSize, depth, hugePages, memoryBytes, scanTargets, commandTimeout,
                eventPollPeriod, dedicatedScanQueue, reconnect, ringType);
    }

    /** @return these options with the given hugepage policy */
    public VirtioScsiOptions withHugePages(HugePagePolicy policy) {
        return new VirtioScsiOptions(requestQueues, queueSize, channelDepth, policy, memoryBytes, scanTargets, commandTimeout,
                eventPollPeriod, dedicatedScanQueue, reconnect, ringType);
    }

    /** @return these options with a memory domain of {@code bytes} */
    public VirtioScsiOptions withMemoryBytes(long bytes) {
        return new VirtioScsiOptions(requestQueues, queueSize, channelDepth, hugePages, bytes, scanTargets, commandTimeout,
                eventPollPeriod, dedicatedScanQueue, reconnect, ringType);
    }

    /** @return these options scanning targets 0..n-1 only (0: the device's max_target) */
    public VirtioScsiOptions withScanTargets(int n) {
        return new VirtioScsiOptions(requestQueues, queueSize, channelDepth, hugePages, memoryBytes, n, commandTimeout,
                eventPollPeriod, dedicatedScanQueue, reconnect, ringType);
    }

    /** @return these options with a timeout per scan / control command */
    public VirtioScsiOptions withCommandTimeout(Duration timeout) {
        return new VirtioScsiOptions(requestQueues, queueSize, channelDepth, hugePages, memoryBytes, scanTargets, timeout,
                eventPollPeriod, dedicatedScanQueue, reconnect, ringType);
    }

    /** @return these options with a background thread polling the event queue every {@code period} (ZERO: none) */
    public VirtioScsiOptions withEventPollPeriod(Duration period) {
        return new VirtioScsiOptions(requestQueues, queueSize, channelDepth, hugePages, memoryBytes, scanTargets, commandTimeout,
                period, dedicatedScanQueue, reconnect, ringType);
    }

    /** @return these options with a background event thread at SPDK's period (5 ms) */
    public VirtioScsiOptions withEventThread() {
        return withEventPollPeriod(SPDK_EVENT_POLL_PERIOD);
    }

    /** @return these options with or without a dedicated scan queue */
    public VirtioScsiOptions withDedicatedScanQueue(boolean dedicated) {
        return new VirtioScsiOptions(requestQueues, queueSize, channelDepth, hugePages, memoryBytes, scanTargets, commandTimeout,
                eventPollPeriod, dedicated, reconnect, ringType);
    }

    /** @return these options with the given reconnect policy */
    public VirtioScsiOptions withReconnect(ReconnectPolicy policy) {
        return new VirtioScsiOptions(requestQueues, queueSize, channelDepth, hugePages, memoryBytes, scanTargets, commandTimeout,
                eventPollPeriod, dedicatedScanQueue, policy, ringType);
    }

    /** @return these options with the given ring format */
    @Override
    public VirtioScsiOptions withRingType(RingType type) {
        return new VirtioScsiOptions(requestQueues, queueSize, channelDepth, hugePages, memoryBytes, scanTargets, commandTimeout,
                eventPollPeriod, dedicatedScanQueue, reconnect, type);
    }
}
