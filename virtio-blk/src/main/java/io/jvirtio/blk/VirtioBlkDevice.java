package io.jvirtio.blk;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.ChannelIoStatistics;
import io.jvirtio.bdev.IoStatistics;
import io.jvirtio.bdev.driver.BdevStatistics;
import io.jvirtio.bdev.jfr.AttachEvent;
import io.jvirtio.bdev.jfr.DetachEvent;
import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.bdev.IoType;
import io.jvirtio.bdev.driver.BdevLimits;
import io.jvirtio.bdev.driver.IoValidator;
import io.jvirtio.core.DeviceException;
import io.jvirtio.core.VirtioBackendOps;
import io.jvirtio.core.SameConfig;
import io.jvirtio.core.VirtioDevice;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.pci.PciAddress;
import io.jvirtio.core.pci.VirtioPciOptions;
import io.jvirtio.spec.pci.VirtioPciSpec;
import io.jvirtio.core.ring.Virtqueue;
import io.jvirtio.core.vfio.VfioAttach;
import io.jvirtio.core.vfio.VfioOptions;
import io.jvirtio.core.vhostuser.VhostUserAttach;
import io.jvirtio.core.vhostuser.VhostUserOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;

import static io.jvirtio.spec.blk.VirtioBlkSpec.*;
import static io.jvirtio.spec.VirtioFeatures.VIRTIO_RING_F_EVENT_IDX;
import static io.jvirtio.spec.VirtioFeatures.VIRTIO_RING_F_INDIRECT_DESC;

/**
 * A virtio-blk device as a {@link Bdev} (SPDK's {@code bdev_virtio_blk}). Negotiates what the
 * device offers of SIZE_MAX, SEG_MAX, BLK_SIZE, TOPOLOGY, MQ, RO, FLUSH, DISCARD, WRITE_ZEROES,
 * EVENT_IDX and INDIRECT_DESC, reads and checks its config, creates the request queues, and hands
 * them out one per thread as {@link VirtioBlkChannel}s.
 */
public final class VirtioBlkDevice implements Bdev, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VirtioBlkDevice.class);
    /** the device type attach and detach events name */
    private static final String DEVICE_TYPE = "blk";

    /** The driver features jvirtio's blk driver understands. */
    public static final long DRIVER_FEATURES = bits(VIRTIO_BLK_F_SIZE_MAX, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE,
            VIRTIO_BLK_F_TOPOLOGY, VIRTIO_BLK_F_MQ, VIRTIO_BLK_F_RO, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_DISCARD,
            VIRTIO_BLK_F_WRITE_ZEROES, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC);
    /** SPDK's product name for virtio-blk bdevs. */
    public static final String PRODUCT_NAME = "VirtioBlk Disk";
    /** Largest data segment when the device sets no size_max: a descriptor length is 32 bits. */
    static final long MAX_SEGMENT_BYTES = 1L << 30;
    /** Most data bytes in one virtio request: far below the 2^32-byte chain limit, a multiple of any block size. */
    static final long MAX_REQUEST_BYTES = 1L << 30;
    /** Descriptors in one indirect table. */
    static final int MAX_INDIRECT = VirtioDevice.DEFAULT_MAX_INDIRECT;

    private final VirtioDevice device;
    private final boolean ownsMemory;
    private final VirtioBlkConfig config;
    private final VirtioBlkOptions options;
    private final Set<IoType> ioTypes;
    private final IoValidator validator;
    /** as started: SPDK reports them in dump_json_info, also after the queues are gone */
    private final int queueCount;
    private final int queueSize;
    private volatile boolean closed;
    /** channels not yet closed: the memory stays mapped while any may still read its ring */
    private int openChannels;
    /** queues whose device never completed what was in flight: out of service until the device is closed */
    private final List<Virtqueue> quarantined = new ArrayList<>();
    /** every channel's I/O counters, open and closed */
    private final BdevStatistics statistics;

    private VirtioBlkDevice(VirtioDevice device, boolean ownsMemory, VirtioBlkConfig config, VirtioBlkOptions options) {
        this.device = device;
        this.ownsMemory = ownsMemory;
        this.config = config;
        this.options = options;
        this.queueCount = device.queueCount();
        this.queueSize = device.queue(0).size();
        EnumSet<IoType> types = EnumSet.of(IoType.READ, IoType.RESET);
        if (!readOnly()) {
            types.add(IoType.WRITE);
            if (hasDiscard()) {
                types.add(IoType.UNMAP);
            }
            if (hasWriteZeroes()) {
                types.add(IoType.WRITE_ZEROES);
            }
        }
        if (hasFlush()) {
            types.add(IoType.FLUSH);
        }
        this.ioTypes = Collections.unmodifiableSet(types);
        this.validator = new IoValidator(limits());
        this.statistics = new BdevStatistics(device.name());
    }

    /** The argument rules of this bdev: 512-byte iovecs (virtio-blk counts in sectors), features it lacks. */
    private BdevLimits limits() {
        Map<IoType, String> unsupported = new EnumMap<>(IoType.class);
        if (!hasFlush()) {
            unsupported.put(IoType.FLUSH, "flush is not supported (VIRTIO_BLK_F_FLUSH not offered; the device writes through)");
        }
        if (!hasDiscard()) {
            unsupported.put(IoType.UNMAP, "unmap is not supported (VIRTIO_BLK_F_DISCARD not offered)");
        }
        if (!hasWriteZeroes()) {
            unsupported.put(IoType.WRITE_ZEROES, "write_zeroes is not supported (VIRTIO_BLK_F_WRITE_ZEROES not offered)");
        }
        MemoryDomain memory = device.memory();
        return new BdevLimits(name(), blockSize(), SECTOR_SIZE, memory::contains, "device", "the device",
                "read-only (VIRTIO_BLK_F_RO)", unsupported);
    }

    /**
     * Attaches a virtio-blk device over any transport. On failure nothing is left running:
     * the device is reset and the transport destructed (and the memory closed when owned).
     *
     * @param name       the bdev name
     * @param ops        the transport; owned by the bdev from now on
     * @param memory     the device-visible memory
     * @param ownsMemory whether closing the bdev closes {@code memory}
     * @param options    queues and sizes
     */
    public static VirtioBlkDevice attach(String name, VirtioBackendOps ops, MemoryDomain memory, boolean ownsMemory,
                                         VirtioBlkOptions options) {
        return attach(name, ops, memory, ownsMemory, options, false);
    }

    /**
     * As {@link #attach(String, VirtioBackendOps, MemoryDomain, boolean, VirtioBlkOptions)}, with one request queue for
     * each the device has ({@code num_queues} with VIRTIO_BLK_F_MQ, else 1; no more than the transport reports)
     * instead of {@link VirtioBlkOptions#requestQueues()}: what SPDK's PCI attach does, where {@code vq_count}
     * cannot be given. {@link #options()} then holds the count used.
     */
    public static VirtioBlkDevice attachWithDeviceQueues(String name, VirtioBackendOps ops, MemoryDomain memory, boolean ownsMemory,
                                                         VirtioBlkOptions options) {
        return attach(name, ops, memory, ownsMemory, options, true);
    }

    private static VirtioBlkDevice attach(String name, VirtioBackendOps ops, MemoryDomain memory, boolean ownsMemory,
                                          VirtioBlkOptions requested, boolean deviceQueues) {
        AttachEvent event = new AttachEvent();
        event.begin();
        VirtioDevice device = new VirtioDevice(name, ops, memory);
        try {
            device.negotiate(DRIVER_FEATURES, requested.ringType());
            VirtioBlkConfig config = VirtioBlkConfig.read(device);
            OptionalInt transportMax = ops.getMaxQueues();
            int available = Math.min(config.numQueues(), transportMax.orElse(Integer.MAX_VALUE));
            VirtioBlkOptions options = deviceQueues ? requested.withRequestQueues(Math.max(1, available)) : requested;
            if (options.requestQueues() > available) {
                throw new DeviceException(name + ": " + options.requestQueues() + " request queues requested, the device has "
                        + available + " (num_queues " + config.numQueues()
                        + (transportMax.isPresent() ? ", transport limit " + transportMax.getAsInt() : "") + ")");
            }
            device.start(options.requestQueues(), 0, options.queueSize(), MAX_INDIRECT);
            VirtioBlkDevice blk = new VirtioBlkDevice(device, ownsMemory, config, options);
            device.superviseLink(options.reconnect(), () -> blk.checkSameDevice());
            LOG.info("{}: virtio-blk attached over {}: {} blocks of {} bytes{}, {} queue(s) of {}", name, ops.transportType(),
                    blk.blockCount(), blk.blockSize(), blk.readOnly() ? " (read-only)" : "", options.requestQueues(),
                    device.queue(0).size());
            if (event.shouldCommit()) {
                event.name = name;
                event.deviceType = DEVICE_TYPE;
                event.requestQueues = options.requestQueues();
                event.queueSize = device.queue(0).size();
                event.bdevs = 1;
                event.commit();
            }
            return blk;
        } catch (RuntimeException e) {
            device.abandonAttach(e, ownsMemory);
            throw e;
        }
    }

    /**
     * Connects to a vhost-user-blk target (qemu-storage-daemon, SPDK's vhost app, jvirtio's target)
     * on its Unix socket and attaches it, with a memory domain of its own.
     *
     * @param name    the bdev name
     * @param socket  the target's socket
     * @param options queues, sizes, memory
     * @throws io.jvirtio.spec.VirtioException naming the socket when nothing listens there or the target misbehaves
     */
    public static VirtioBlkDevice connectVhostUser(String name, Path socket, VirtioBlkOptions options) {
        return connectVhostUser(name, socket, options, VhostUserOptions.defaults());
    }

    /** As {@link #connectVhostUser(String, Path, VirtioBlkOptions)} with vhost-user protocol options. */
    public static VirtioBlkDevice connectVhostUser(String name, Path socket, VirtioBlkOptions options, VhostUserOptions vhostUser) {
        return VhostUserAttach.attach(name, socket, options.memoryBytes(), options.hugePages(), vhostUser,
                (ops, memory) -> attach(name, ops, memory, true, options));
    }

    /**
     * Attaches the virtio-blk PCI function at {@code address} (bound to vfio-pci) through kernel VFIO, with a
     * memory domain of its own mapped for the device's DMA (SPDK's {@code bdev_virtio_pci_blk_dev_create}).
     * The device sets the limits: {@link VirtioBlkOptions#requestQueues()} must not exceed its {@code num_queues}
     * (the default, 1, never does) and {@link VirtioBlkOptions#queueSize()} is cut to its queue size (e.g. 256 for
     * QEMU's virtio-blk-pci). A PCI function cannot lose its peer, so a {@link VirtioBlkOptions#reconnect()} policy
     * is accepted and never acts. Setting up VFIO and binding: {@code docs/vfio.md}.
     *
     * @param name    the bdev name
     * @param address the function, e.g. {@code PciAddress.parse("0000:00:05.0")}
     * @param options queues, sizes, memory
     * @throws io.jvirtio.spec.VirtioException naming the function when VFIO cannot open it (no {@code /dev/vfio}, not
     *                                         bound to vfio-pci, group not viable, ...) or it is not a usable
     *                                         virtio-blk device (a function of another virtio type is refused by
     *                                         name); nothing stays open
     */
    public static VirtioBlkDevice attachPci(String name, PciAddress address, VirtioBlkOptions options) {
        return attachPci(name, address, options, VfioOptions.defaults(), VirtioPciOptions.defaults());
    }

    /**
     * As {@link #attachPci(String, PciAddress, VirtioBlkOptions)} with VFIO options (where {@code /dev/vfio} and sysfs
     * are, how BARs are reached) and virtio-pci transport options (reset timeout, config-generation retries).
     */
    public static VirtioBlkDevice attachPci(String name, PciAddress address, VirtioBlkOptions options, VfioOptions vfio,
                                            VirtioPciOptions pci) {
        return VfioAttach.attach(name, address, options.memoryBytes(), options.hugePages(), vfio, pci.withVirtioId(VirtioPciSpec.VIRTIO_ID_BLOCK),
                (ops, memory) -> attach(name, ops, memory, true, options));
    }

    /** A target that came back must be this device: the same config (capacity, block size, queues, limits). */
    private void checkSameDevice() {
        SameConfig.require(config, VirtioBlkConfig.read(device));
    }

    /** @return the underlying virtio device */
    public VirtioDevice device() {
        return device;
    }

    /** @return the device config as read at attach */
    public VirtioBlkConfig config() {
        return config;
    }

    /** @return the options the device was attached with */
    public VirtioBlkOptions options() {
        return options;
    }

    @Override
    public String name() {
        return device.name();
    }

    @Override
    public String productName() {
        return PRODUCT_NAME;
    }

    @Override
    public int blockSize() {
        return config.blockSize();
    }

    @Override
    public long blockCount() {
        return config.capacityBytes() / config.blockSize();
    }

    @Override
    public boolean readOnly() {
        return device.hasFeature(VIRTIO_BLK_F_RO);
    }

    boolean hasFlush() {
        return device.hasFeature(VIRTIO_BLK_F_FLUSH);
    }

    boolean hasDiscard() {
        return device.hasFeature(VIRTIO_BLK_F_DISCARD);
    }

    boolean hasWriteZeroes() {
        return device.hasFeature(VIRTIO_BLK_F_WRITE_ZEROES);
    }

    /**
     * @return the most descriptors one request may chain: never more than the queue size (virtio 2.7.5.3.1 caps an
     *         indirect table there too), and with indirect descriptors no more than one indirect table
     */
    int maxChainDescriptors() {
        int size = queueSize;
        // Within one indirect table a request takes a single ring slot; longer chains would need a nearly empty ring.
        return device.hasFeature(VIRTIO_RING_F_INDIRECT_DESC) ? Math.min(size, MAX_INDIRECT) : size;
    }

    MemoryDomain memory() {
        return device.memory();
    }

    /** @return the argument checks every channel of this bdev runs */
    IoValidator validator() {
        return validator;
    }

    boolean isClosed() {
        return closed;
    }

    @Override
    public Set<IoType> supportedIoTypes() {
        return ioTypes;
    }

    @Override
    public int maxChannels() {
        return device.queueCount();
    }

    /**
     * {@inheritDoc}
     *
     * @return the channel, with blk-specific calls such as {@link VirtioBlkChannel#getId}
     */
    @Override
    public synchronized VirtioBlkChannel openChannel() {
        if (closed) {
            throw new BdevIoException(Reason.CLOSED, "bdev " + name() + " is closed");
        }
        Virtqueue vq = device.findAndAcquireQueue(0);
        if (vq == null) {
            int broken = device.brokenQueues(0);
            throw new BdevIoException(Reason.RESOURCES_EXHAUSTED, "bdev " + name() + ": all " + device.queueCount() + " request queues are taken by other threads"
                    + (broken > 0 ? " or out of service (" + broken + " broken by the device; see the log)" : "")
                    + " (attach with more request queues, vq_count)");
        }
        try {
            int depth = options.channelDepth() > 0 ? options.channelDepth() : vq.size();
            VirtioBlkChannel channel = new VirtioBlkChannel(this, vq, depth, statistics.openChannel());
            openChannels++;
            return channel;
        } catch (RuntimeException e) {
            device.releaseQueue(vq);
            throw e;
        }
    }

    /** The channel gave up on a device that holds its requests: the queue and its memory stay put until {@link #close}. */
    synchronized void channelQuarantined(VirtioBlkChannel channel, MemorySegment partMemory) {
        openChannels--;
        statistics.channelClosed(channel.counters());
        quarantined.add(channel.queue());
    }

    synchronized void channelClosed(VirtioBlkChannel channel, MemorySegment partMemory) {
        openChannels--;
        statistics.channelClosed(channel.counters());
        freeBuffer(partMemory);
        device.releaseQueue(channel.queue());
        if (closed && openChannels == 0 && ownsMemory) {
            device.memory().close();
        }
    }

    @Override
    public MemorySegment allocateBuffer(long size, long alignment) {
        return device.memory().allocate(size, alignment);
    }

    @Override
    public void freeBuffer(MemorySegment buffer) {
        device.memory().free(buffer);
    }

    @Override
    public Map<String, Object> driverSpecificInfo() {
        Map<String, Object> virtio = new LinkedHashMap<>();
        virtio.put("vq_count", queueCount);
        virtio.put("vq_size", queueSize);
        virtio.putAll(device.backend().dumpJsonInfo());
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("virtio", virtio);
        return out;
    }

    /** {@inheritDoc} Counted per channel on completion; closed channels' counts stay in the sums. */
    @Override
    public IoStatistics ioStatistics() {
        return statistics.snapshot();
    }

    @Override
    public List<ChannelIoStatistics> channelIoStatistics() {
        return statistics.channelSnapshots();
    }

    /**
     * Resets the device, frees its queues and closes the transport. Open channels fail their
     * in-flight I/O on their next poll; owned memory is unmapped when the last of them is closed
     * (never under a thread that may still read a ring).
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        DetachEvent event = new DetachEvent();
        event.begin();
        statistics.close();
        try {
            device.close();
            // reset: the device no longer touches quarantined rings, so they can go
            for (Virtqueue vq : quarantined) {
                device.releaseQueue(vq);
            }
            quarantined.clear();
        } finally {
            if (ownsMemory && openChannels == 0) {
                device.memory().close();
            }
            if (event.shouldCommit()) {
                event.name = name();
                event.deviceType = DEVICE_TYPE;
                event.commit();
            }
        }
    }

    private static long bits(int... features) {
        long v = 0;
        for (int f : features) {
            v |= VirtioFeatures.bit(f);
        }
        return v;
    }

    @Override
    public String toString() {
        return "VirtioBlkDevice[" + name() + ", " + blockCount() + " x " + blockSize() + " B, " + device.backend().transportType() + "]";
    }
}
