package io.jvirtio.core;

import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.VirtioStatus;

import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.spec.ring.PackedRingLayout;
import io.jvirtio.spec.ring.SplitRingLayout;
import io.jvirtio.core.ring.PackedVirtqueue;
import io.jvirtio.core.ring.SplitVirtqueue;
import io.jvirtio.core.ring.Virtqueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.util.OptionalInt;
import java.util.concurrent.atomic.AtomicReferenceArray;

import static io.jvirtio.spec.VirtioFeatures.VIRTIO_F_RING_PACKED;
import static io.jvirtio.spec.VirtioFeatures.VIRTIO_F_VERSION_1;
import static io.jvirtio.spec.VirtioFeatures.VIRTIO_RING_F_EVENT_IDX;
import static io.jvirtio.spec.VirtioFeatures.VIRTIO_RING_F_INDIRECT_DESC;

/**
 * A virtio device, transport-independent (SPDK's {@code struct virtio_dev}): the status state
 * machine, feature negotiation, queue creation and per-thread queue ownership, device config
 * access. The transport is a {@link VirtioBackendOps}; this class never learns which.
 *
 * <p>Life cycle: {@link #negotiate} (RESET → ACKNOWLEDGE → DRIVER → FEATURES_OK), then
 * {@link #start} (queues, DRIVER_OK), then {@link #acquireQueue}/{@link #releaseQueue} from I/O
 * threads, then {@link #close}. A failure on the way sets FAILED and leaves nothing running.
 */
public final class VirtioDevice implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VirtioDevice.class);

    /** The alignment of ring memory: the used ring must be 4096-aligned and so is the whole block. */
    private static final long RING_ALIGN = 4096;
    /** Descriptors in one indirect table; capped by the device's segment limit where it has one. */
    public static final int DEFAULT_MAX_INDIRECT = 128;

    private final String name;
    private final VirtioBackendOps ops;
    private final MemoryDomain memory;
    private long offeredFeatures;
    private long negotiatedFeatures;
    private int status;
    private Virtqueue[] queues = new Virtqueue[0];
    private MemorySegment[] ringMemory = new MemorySegment[0];
    private MemorySegment[] indirectMemory = new MemorySegment[0];
    private AtomicReferenceArray<Thread> owners = new AtomicReferenceArray<>(0);
    private int fixedQueues;
    private boolean closed;
    private boolean destructed;
    /** the link to the target across losses and reconnects */
    private final LinkSupervisor link = new LinkSupervisor(this);

    /**
     * @param name   the device name used in every log line and error
     * @param ops    the transport
     * @param memory the memory the device can reach; rings are allocated there
     */
    public VirtioDevice(String name, VirtioBackendOps ops, MemoryDomain memory) {
        this.name = name;
        this.ops = ops;
        this.memory = memory;
        ops.setTransportListener(this::onTransportLost);
    }

    private void onTransportLost(String reason) {
        link.transportLost(reason);
    }

    /**
     * @return why the transport lost its peer (e.g. "vhost-user back-end on PATH disconnected"),
     *         or null while it has it. One volatile read: the drivers' poll looks at it every time.
     */
    public String transportLost() {
        return link.lost();
    }

    /**
     * Sets what happens when the transport loses its peer (default {@link ReconnectPolicy#NONE}).
     *
     * @param sameDevice throws {@link DeviceException} when a target that came back is not the same
     *                   device (the driver compares its config)
     */
    public void superviseLink(ReconnectPolicy policy, Runnable sameDevice) {
        link.configure(policy, sameDevice::run);
    }

    /** @return the reconnect policy in force */
    public ReconnectPolicy reconnectPolicy() {
        return link.policy();
    }

    /** Adds a listener for disconnect, reconnect and give-up. */
    public void addLinkListener(LinkListener l) {
        link.addListener(l);
    }

    /** Removes a listener added by {@link #addLinkListener}. */
    public void removeLinkListener(LinkListener l) {
        link.removeListener(l);
    }

    /** @return whether new I/O is refused now: the link is down without a policy, past fast_io_fail, or given up */
    public boolean refusesIo() {
        return link.refusesIo();
    }

    /** @return the reason I/O fails with while the link is down (null while it is up) */
    public String linkDownMessage() {
        return link.lostMessage();
    }

    /**
     * For a queue's owner, from its poll, once {@link #transportLost()} is not null and every used
     * element was taken: whether to keep its I/O waiting, fail it, or resume (the link is back and
     * the queue's requests were handed to the new target).
     *
     * @return 0 keep waiting, 1 fail everything with {@link #linkDownMessage()}, 2 resume
     */
    public int linkDownStep(Virtqueue vq) {
        return link.ownerStep(vq).ordinal();
    }

    /** {@link #linkDownStep}: keep the I/O waiting. */
    public static final int LINK_WAIT = 0;
    /** {@link #linkDownStep}: fail every request and queued I/O. */
    public static final int LINK_FAIL = 1;
    /** {@link #linkDownStep}: the link is back; resume queued I/O. */
    public static final int LINK_RESUMED = 2;

    /** Reconnect: ACKNOWLEDGE, DRIVER, the same features as before, FEATURES_OK. */
    void renegotiate() {
        setStatus(VirtioStatus.RESET);
        setStatus(VirtioStatus.ACKNOWLEDGE);
        setStatus(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER);
        long offered = ops.getFeatures();
        if (offered != offeredFeatures) {
            throw new DeviceException("it offers features 0x" + Long.toHexString(offered) + ", it offered 0x"
                    + Long.toHexString(offeredFeatures) + " before");
        }
        ops.setFeatures(negotiatedFeatures);
        setStatus(status | VirtioStatus.FEATURES_OK);
        int readBack = ops.getStatus();
        if ((readBack & VirtioStatus.FEATURES_OK) == 0) {
            throw new DeviceException("it did not accept features 0x" + Long.toHexString(negotiatedFeatures)
                    + " again (status read back " + VirtioStatus.describe(readBack) + ")");
        }
    }

    /** Reconnect: queue {@code i} again, at the avail index its requests were put back from. */
    void setupQueueAt(int i, int availIndex) {
        Virtqueue vq = queues[i];
        ops.setupQueue(new QueueSetup(i, vq.size(), vq.descTableAddress(), vq.driverAreaAddress(), vq.deviceAreaAddress(), availIndex,
                vq instanceof PackedVirtqueue));
    }

    /** Reconnect: DRIVER_OK, which starts every queue set up. */
    void restartQueues() {
        setStatus(status | VirtioStatus.DRIVER_OK);
    }

    /** @return the device name */
    public String name() {
        return name;
    }

    /** @return the transport */
    public VirtioBackendOps backend() {
        return ops;
    }

    /** @return the memory domain the device reaches */
    public MemoryDomain memory() {
        return memory;
    }

    /**
     * Resets the device and negotiates features (spec 3.1.1 steps 1–6).
     *
     * @param wanted the device-specific and ring features the driver supports; VERSION_1 is always requested
     * @return the negotiated features
     * @throws DeviceException when the device lacks VERSION_1 or refuses FEATURES_OK
     */
    public long negotiate(long wanted) {
        return negotiate(wanted, RingType.SPLIT);
    }

    /**
     * {@link #negotiate(long)} with a ring format choice: {@code VIRTIO_F_RING_PACKED} is accepted when
     * the device offers it and {@code ringType} allows it.
     *
     * @throws DeviceException as {@link #negotiate(long)}, and when {@link RingType#PACKED} is asked of a
     *         device that does not offer the packed ring
     */
    public long negotiate(long wanted, RingType ringType) {
        long negotiated = negotiateFeatures(wanted | ringType.features());
        if (ringType == RingType.PACKED && !VirtioFeatures.has(negotiated, VIRTIO_F_RING_PACKED)) {
            fail();
            throw new DeviceException(name + ": the packed ring was asked for (ringType PACKED), but the device offers features 0x"
                    + Long.toHexString(offeredFeatures) + " without VIRTIO_F_RING_PACKED (bit 34)");
        }
        return negotiated;
    }

    private long negotiateFeatures(long wanted) {
        setStatus(VirtioStatus.RESET);
        setStatus(VirtioStatus.ACKNOWLEDGE);
        setStatus(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER);
        offeredFeatures = ops.getFeatures();
        if (!VirtioFeatures.has(offeredFeatures, VIRTIO_F_VERSION_1)) {
            fail();
            throw new DeviceException(name + ": device offers features 0x" + Long.toHexString(offeredFeatures)
                    + " without VIRTIO_F_VERSION_1 (bit 32); legacy devices are not supported");
        }
        negotiatedFeatures = offeredFeatures & (wanted | VirtioFeatures.bit(VIRTIO_F_VERSION_1));
        ops.setFeatures(negotiatedFeatures);
        setStatus(status | VirtioStatus.FEATURES_OK);
        int readBack = ops.getStatus();
        if ((readBack & VirtioStatus.FEATURES_OK) == 0) {
            fail();
            throw new DeviceException(name + ": device did not accept features 0x" + Long.toHexString(negotiatedFeatures)
                    + " (status read back " + VirtioStatus.describe(readBack) + ")");
        }
        LOG.debug("{}: offered 0x{}, negotiated 0x{}", name, Long.toHexString(offeredFeatures), Long.toHexString(negotiatedFeatures));
        return negotiatedFeatures;
    }

    /** @return the features the device offered */
    public long offeredFeatures() {
        return offeredFeatures;
    }

    /** @return the negotiated features */
    public long negotiatedFeatures() {
        return negotiatedFeatures;
    }

    /** @return whether {@code feature} was negotiated */
    public boolean hasFeature(int feature) {
        return VirtioFeatures.has(negotiatedFeatures, feature);
    }

    /**
     * Creates and starts queues, then sets DRIVER_OK.
     *
     * @param totalQueues  all queues, fixed ones included
     * @param fixedQueues  queues at the start reserved for the driver (2 for scsi: control, event)
     * @param queueSize    descriptors per queue; clamped to the transport's maximum, must be a power of two
     * @param maxIndirect  descriptors per indirect table when INDIRECT_DESC was negotiated
     */
    public void start(int totalQueues, int fixedQueues, int queueSize, int maxIndirect) {
        // FAILED too: a refused FEATURES_OK leaves the bit in what the driver wrote, with FAILED beside it.
        if ((status & VirtioStatus.FEATURES_OK) == 0 || (status & VirtioStatus.FAILED) != 0) {
            throw new DeviceException(name + ": start before feature negotiation (status " + VirtioStatus.describe(status) + ")");
        }
        OptionalInt transportMax = ops.getMaxQueues();
        if (totalQueues < 1 || totalQueues > transportMax.orElse(Integer.MAX_VALUE)) {
            fail();
            throw new DeviceException(name + ": " + totalQueues + " queues requested, the transport allows 1.."
                    + (transportMax.isPresent() ? transportMax.getAsInt() : "(not reported)"));
        }
        this.fixedQueues = fixedQueues;
        queues = new Virtqueue[totalQueues];
        ringMemory = new MemorySegment[totalQueues];
        indirectMemory = new MemorySegment[totalQueues];
        owners = new AtomicReferenceArray<>(totalQueues);
        boolean eventIdx = hasFeature(VIRTIO_RING_F_EVENT_IDX);
        boolean indirect = hasFeature(VIRTIO_RING_F_INDIRECT_DESC) && maxIndirect > 0;
        boolean packed = hasFeature(VIRTIO_F_RING_PACKED);
        try {
            for (int i = 0; i < totalQueues; i++) {
                int size = Math.min(queueSize, ops.getQueueSize(i));
                if (size <= 0 || Integer.bitCount(size) != 1) {
                    throw new DeviceException(name + ": queue " + i + " size " + size + " is not a power of two"
                            + " (asked " + queueSize + ", transport max " + ops.getQueueSize(i) + ")");
                }
                ringMemory[i] = memory.allocate(packed ? PackedRingLayout.totalBytes(size) : SplitRingLayout.totalBytes(size), RING_ALIGN);
                if (indirect) {
                    indirectMemory[i] = memory.allocate((long) size * maxIndirect * SplitRingLayout.DESC_SIZE, RING_ALIGN);
                }
                Virtqueue vq = packed
                        ? new PackedVirtqueue(name + "-q" + i, i, size, ringMemory[i], indirectMemory[i], indirect ? maxIndirect : 0,
                                eventIdx, q -> ops.notifyQueue(q.index()))
                        : new SplitVirtqueue(name + "-q" + i, i, size, ringMemory[i], indirectMemory[i],
                                indirect ? maxIndirect : 0, eventIdx, q -> ops.notifyQueue(q.index()));
                int directChainMax = Integer.getInteger("jvirtio.ring.directChainMax", SplitVirtqueue.DEFAULT_DIRECT_CHAIN_MAX);
                if (vq instanceof SplitVirtqueue split) {
                    split.setDirectChainMax(directChainMax);
                } else if (vq instanceof PackedVirtqueue p) {
                    p.setDirectChainMax(directChainMax);
                }
                queues[i] = vq;
                ops.setupQueue(new QueueSetup(i, size, vq.descTableAddress(), vq.driverAreaAddress(), vq.deviceAreaAddress(),
                        vq.availIndex(), packed));
            }
            setStatus(status | VirtioStatus.DRIVER_OK);
        } catch (RuntimeException e) {
            fail();
            releaseRings();
            throw e;
        }
        LOG.info("{}: started, {} queues ({} fixed), size {}, {} ring, features 0x{}", name, totalQueues, fixedQueues,
                queues[0].size(), packed ? "packed" : "split", Long.toHexString(negotiatedFeatures));
    }

    /** @return the number of queues, fixed ones included */
    public int queueCount() {
        return queues.length;
    }

    /** @return the number of fixed queues (0 for blk, 2 for scsi) */
    public int fixedQueues() {
        return fixedQueues;
    }

    /** @return the transport's name, as SPDK prints it ({@code user}, {@code pci}) */
    public String transportType() {
        return ops.transportType();
    }

    /**
     * @param vq one of this device's queues
     * @return the eventfd its transport signals on used buffers (when the ring asks), or -1 (see
     *         {@link VirtioBackendOps#completionFd})
     */
    public int completionFd(Virtqueue vq) {
        return ops.completionFd(vq.index());
    }

    /** @return queue {@code index}, whoever owns it (for the owner and for diagnostics) */
    public Virtqueue queue(int index) {
        return queues[index];
    }

    /**
     * Binds queue {@code index} to the calling thread.
     *
     * @return the queue, or null when another thread holds it
     */
    public synchronized Virtqueue acquireQueue(int index) {
        if (closed) {
            throw new DeviceException(name + ": closed; no queue can be acquired");
        }
        if (index < 0 || index >= queues.length) {
            throw new DeviceException(name + ": queue index " + index + " out of range 0.." + (queues.length - 1));
        }
        return owners.compareAndSet(index, null, Thread.currentThread()) ? queues[index] : null;
    }

    /**
     * Binds the first free queue at or after {@code startIndex} to the calling thread
     * (SPDK's {@code virtio_dev_find_and_acquire_queue}).
     *
     * @return the queue, or null when all are taken
     */
    public synchronized Virtqueue findAndAcquireQueue(int startIndex) {
        for (int i = startIndex; i < queues.length; i++) {
            if (queues[i].isBroken()) {
                continue; // a device broke its rules there: it stays out of service until a reset
            }
            Virtqueue vq = acquireQueue(i);
            if (vq != null) {
                return vq;
            }
        }
        return null;
    }

    /** @return how many queues at or after {@code startIndex} a device broke (out of service until reset) */
    public synchronized int brokenQueues(int startIndex) {
        int n = 0;
        for (int i = startIndex; i < queues.length; i++) {
            n += queues[i].isBroken() ? 1 : 0;
        }
        return n;
    }

    /**
     * Makes a queue free for another thread. After {@link #close}, this is when the queue's ring
     * memory goes back to the domain: its owner may have been reading it until now.
     */
    public synchronized void releaseQueue(Virtqueue vq) {
        int i = vq.index();
        if (i < owners.length() && queues[i] == vq) {
            owners.set(i, null);
            if (closed) {
                freeQueueMemory(i);
                destructWhenUnowned();
            }
        }
    }

    /** @return the thread that owns queue {@code index}, or null */
    public Thread queueOwner(int index) {
        return owners.get(index);
    }

    /** Reads {@code dst.byteSize()} bytes of device config at {@code offset}. */
    public void readDevConfig(long offset, MemorySegment dst) {
        ops.readDevConfig(offset, dst);
    }

    /** Writes {@code src} to device config at {@code offset}. */
    public void writeDevConfig(long offset, MemorySegment src) {
        ops.writeDevConfig(offset, src);
    }

    /** @return the status as last set by the driver */
    public int status() {
        return status;
    }

    private void setStatus(int newStatus) {
        ops.setStatus(newStatus);
        status = newStatus;
    }

    private void fail() {
        try {
            setStatus(status | VirtioStatus.FAILED);
        } catch (RuntimeException e) {
            LOG.debug("{}: could not set FAILED: {}", name, e.toString());
        }
    }

    /**
     * Deletes every queue on the transport and frees the ring memory of queues no thread owns.
     * An owned queue keeps its memory until {@link #releaseQueue}: its owner may still poll it.
     */
    private synchronized void releaseRings() {
        boolean anyOwned = false;
        for (int i = 0; i < queues.length; i++) {
            if (queues[i] != null) {
                try {
                    ops.deleteQueue(i);
                } catch (RuntimeException e) {
                    LOG.debug("{}: deleting queue {}: {}", name, i, e.toString());
                }
            }
            if (owners.get(i) == null) {
                freeQueueMemory(i);
            } else {
                anyOwned = true;
            }
        }
        if (!anyOwned) {
            queues = new Virtqueue[0];
            ringMemory = new MemorySegment[0];
            indirectMemory = new MemorySegment[0];
            owners = new AtomicReferenceArray<>(0);
        }
    }

    /** The transport goes once no thread owns a queue: until then an owner may still kick. */
    private void destructWhenUnowned() {
        for (int i = 0; i < owners.length(); i++) {
            if (owners.get(i) != null) {
                return;
            }
        }
        if (!destructed) {
            destructed = true;
            ops.destruct();
        }
    }

    private void freeQueueMemory(int i) {
        if (ringMemory[i] != null) {
            memory.free(ringMemory[i]);
            ringMemory[i] = null;
        }
        if (indirectMemory[i] != null) {
            memory.free(indirectMemory[i]);
            indirectMemory[i] = null;
        }
    }

    /**
     * Resets the device (stopping every queue), frees the rings and closes the transport. A queue
     * a thread still owns keeps its ring memory, and the transport stays open (its kicks land in a
     * live eventfd), until that thread releases it. In-flight requests are not completed here:
     * their owners fail them (see the bdev layer).
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        link.close();
        try {
            setStatus(VirtioStatus.RESET);
        } catch (RuntimeException e) {
            if (link.lost() != null) {
                LOG.debug("{}: no reset on close, the transport is gone: {}", name, e.toString());
            } else {
                LOG.warn("{}: reset on close failed: {}", name, e.toString());
            }
        }
        try {
            releaseRings();
        } finally {
            destructWhenUnowned();
        }
    }

    /**
     * Undoes a driver's attach that failed before the driver was built: resets the device, gives back
     * the queues the calling thread acquired (their rings, then the transport, go with them) and, when
     * the driver was to own it, closes the memory. What fails on the way is added to {@code failure}.
     *
     * @param failure     why the attach failed; rethrown by the caller
     * @param closeMemory whether the driver owned the memory domain
     */
    public void abandonAttach(RuntimeException failure, boolean closeMemory) {
        try {
            close();
            if (queues != null) {
                for (int i = 0; i < queues.length; i++) {
                    if (queueOwner(i) == Thread.currentThread()) {
                        releaseQueue(queues[i]);
                    }
                }
            }
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        }
        if (closeMemory) {
            memory.close();
        }
    }

    @Override
    public String toString() {
        return "VirtioDevice[" + name + ", " + ops.transportType() + ", status " + VirtioStatus.describe(status) + "]";
    }
}
