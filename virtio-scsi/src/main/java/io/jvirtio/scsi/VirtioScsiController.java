package io.jvirtio.scsi;

import io.jvirtio.spec.scsi.ScsiSpec;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.core.DeviceException;
import io.jvirtio.core.TransportUnsupportedException;
import io.jvirtio.core.VirtioBackendOps;
import io.jvirtio.core.VirtioDevice;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.ring.SplitVirtqueue;
import io.jvirtio.core.vhostuser.VhostUserAttach;
import io.jvirtio.core.vhostuser.VhostUserOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

import static io.jvirtio.spec.VirtioFeatures.VIRTIO_RING_F_EVENT_IDX;
import static io.jvirtio.spec.VirtioFeatures.VIRTIO_RING_F_INDIRECT_DESC;
import static io.jvirtio.spec.scsi.VirtioScsiSpec.*;

/**
 * A virtio-scsi controller (SPDK's {@code virtio_scsi_dev}) over any transport: negotiates
 * VIRTIO_SCSI_F_INOUT, HOTPLUG and CHANGE where offered plus EVENT_IDX and INDIRECT_DESC, reads
 * {@code struct virtio_scsi_config} when the transport can (SPDK's defaults otherwise), starts the
 * control queue (0), the event queue (1) and the request queues (2..), scans the targets and exposes
 * every LUN as a {@link VirtioScsiDisk} bdev.
 *
 * <h2>Queues and threads</h2>
 * <ul>
 *   <li><b>Request queues</b>: {@link VirtioScsiOptions#requestQueues()} of them for I/O. A thread's
 *       first channel on any LUN of the controller takes a free one; every further LUN channel of that
 *       thread shares it (SPDK: one request queue per thread per controller). So the number of threads
 *       doing I/O, not the number of LUNs, is bounded by the request queues.</li>
 *   <li><b>Scan queue</b>: scans (attach, events, {@link #rescan()}) run blocking, with a timeout per
 *       command, on a request queue of their own: one extra queue reserved at attach when the device
 *       has one to spare ({@link VirtioScsiOptions#dedicatedScanQueue()}); otherwise the scanning
 *       thread's own request queue (taking a free one if it has none, as SPDK's scan takes an I/O
 *       channel of its thread). A rescan that finds no queue free waits for the next
 *       {@link #pollEvents()}.</li>
 *   <li><b>Control queue</b>: task management (LUN reset), shared by all threads under a short lock;
 *       completions are taken by the waiting channel's own {@code poll} (never blocking) and by
 *       {@link #pollEvents()}; a reset's callback runs on the thread that asked.</li>
 *   <li><b>Event queue</b>: 16 buffers always posted. Polled by {@link #pollEvents()}, which the
 *       embedding calls from its management thread (SPDK's mgmt poller), or by the controller's own
 *       daemon thread when {@link VirtioScsiOptions#eventPollPeriod()} is positive. Events run the
 *       rescans and removals, and {@link BdevListener}s are called from there.</li>
 * </ul>
 */
public final class VirtioScsiController implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VirtioScsiController.class);

    /** The driver features jvirtio's scsi driver understands. */
    public static final long DRIVER_FEATURES = VirtioFeatures.bit(VIRTIO_SCSI_F_INOUT) | VirtioFeatures.bit(VIRTIO_SCSI_F_HOTPLUG)
            | VirtioFeatures.bit(VIRTIO_SCSI_F_CHANGE) | VirtioFeatures.bit(VIRTIO_RING_F_EVENT_IDX)
            | VirtioFeatures.bit(VIRTIO_RING_F_INDIRECT_DESC);
    /** Descriptors in one indirect table. */
    static final int MAX_INDIRECT = VirtioDevice.DEFAULT_MAX_INDIRECT;
    /** The largest logical block accepted: the zeroed block WRITE SAME sends is this large. */
    static final int MAX_BLOCK_SIZE = 65536;

    private final VirtioDevice device;
    private final boolean ownsMemory;
    private final VirtioScsiConfig config;
    private final VirtioScsiOptions options;
    private final int queueCount;
    private final int queueSize;
    private final int firstIoQueue;
    private final int targetCount;
    private final ControlQueue control;
    private final EventQueue events;
    private final ScsiRequestQueue scanQueue;
    private final MemorySegment zeroBlock;

    private final ConcurrentSkipListMap<Integer, VirtioScsiDisk> disks = new ConcurrentSkipListMap<>();
    private final CopyOnWriteArrayList<BdevListener> listeners = new CopyOnWriteArrayList<>();
    /** guards the event queue, scans, the disk map's changes, {@link #removing} and listener calls */
    private final ReentrantLock scanLock = new ReentrantLock();
    /** removed disks whose channels still hold I/O; guarded by scanLock */
    private final List<VirtioScsiDisk> removing = new ArrayList<>();
    /** targets the I/O path asked to rescan (BAD_TARGET, REPORTED LUNS DATA HAS CHANGED, CAPACITY DATA HAS CHANGED) */
    private final Set<Integer> rescanRequests = ConcurrentHashMap.newKeySet();
    private volatile boolean fullRescanRequested;
    private volatile int removalEpoch;

    /** request queues by the thread that uses them; guarded by this */
    private final Map<Thread, ScsiRequestQueue> threadQueues = new HashMap<>();
    /**
     * queues given up while the device still held commands of theirs (a scan command that timed out, a
     * closed channel's I/O): never handed back to the device, but reused by the next thread that finds
     * no fresh queue (late completions of the old commands are then freed by its poll)
     */
    private final List<ScsiRequestQueue> parked = new ArrayList<>();
    /** thread queues not yet given back: the memory stays mapped while any may still read its ring */
    private int openQueues;
    private boolean closed;
    private volatile boolean deviceClosed;
    private boolean deferWarned;
    private Thread eventThread;

    private VirtioScsiController(VirtioDevice device, boolean ownsMemory, VirtioScsiConfig config, VirtioScsiOptions options,
                                 boolean dedicatedScan) {
        this.device = device;
        this.ownsMemory = ownsMemory;
        this.config = config;
        this.options = options;
        this.queueCount = device.queueCount();
        this.queueSize = device.queue(0).size();
        this.firstIoQueue = REQUESTQ_BASE + (dedicatedScan ? 1 : 0);
        this.targetCount = options.scanTargets() > 0 ? options.scanTargets() : config.targetCount();
        SplitVirtqueue ctrlq = device.acquireQueue(CONTROLQ);
        SplitVirtqueue eventq = device.acquireQueue(EVENTQ);
        this.control = new ControlQueue(device.name(), ctrlq, device.memory());
        this.events = new EventQueue(device.name(), eventq, device.memory(), config.eventBufferSize());
        this.scanQueue = dedicatedScan ? new ScsiRequestQueue(this, device.acquireQueue(REQUESTQ_BASE), null) : null;
        this.zeroBlock = device.memory().allocate(MAX_BLOCK_SIZE, 4096);
    }

    // ---------------------------------------------------------------- attach

    /**
     * Attaches a virtio-scsi controller over any transport and scans its targets. On failure nothing is
     * left running: the device is reset and the transport destructed (and the memory closed when owned).
     *
     * @param name       the controller name; its bdevs are {@code <name>t<target>} and {@code <name>t<target>l<lun>}
     * @param ops        the transport; owned by the controller from now on
     * @param memory     the device-visible memory
     * @param ownsMemory whether closing the controller closes {@code memory}
     * @param options    queues, sizes, scan and event settings
     */
    public static VirtioScsiController attach(String name, VirtioBackendOps ops, MemoryDomain memory, boolean ownsMemory,
                                              VirtioScsiOptions options) {
        VirtioDevice device = new VirtioDevice(name, ops, memory);
        VirtioScsiController ctrl = null;
        try {
            device.negotiate(DRIVER_FEATURES);
            VirtioScsiConfig config = readConfig(device, ops);
            OptionalInt transportMax = ops.getMaxQueues();
            // neither the device nor the transport says how many queues there are: take what was asked
            // for (the transport refuses an index it cannot address) and spare none for scans
            boolean known = config.fromDevice() || transportMax.isPresent();
            int transportRequestQueues = transportMax.orElse(Integer.MAX_VALUE) - FIXED_QUEUES;
            int available = known ? Math.min(config.numQueues(), transportRequestQueues) : options.requestQueues();
            if (options.requestQueues() > available) {
                throw new DeviceException(name + ": " + options.requestQueues() + " request queues requested, the device has "
                        + available + " (num_queues " + config.numQueues() + (config.fromDevice() ? "" : " from the transport")
                        + (transportMax.isPresent() ? ", transport limit " + transportRequestQueues : "")
                        + " besides the control and event queues)");
            }
            boolean dedicated = options.dedicatedScanQueue() && known && available > options.requestQueues();
            device.start(FIXED_QUEUES + options.requestQueues() + (dedicated ? 1 : 0), FIXED_QUEUES, options.queueSize(), MAX_INDIRECT);
            ctrl = new VirtioScsiController(device, ownsMemory, config, options, dedicated);
            ctrl.events.postAll();
            ctrl.initialScan();
            ctrl.startEventThread();
            LOG.info("{}: virtio-scsi attached over {}: {} LUN bdev(s) on targets 0..{}, {} request queue(s){} of {}, config {}, features 0x{}",
                    name, ops.transportType(), ctrl.disks.size(), ctrl.targetCount - 1, options.requestQueues(),
                    dedicated ? " + 1 scan queue" : "", ctrl.queueSize, config.fromDevice() ? "from the device" : "SPDK defaults",
                    Long.toHexString(device.negotiatedFeatures()));
            return ctrl;
        } catch (RuntimeException e) {
            if (ctrl != null) {
                try {
                    ctrl.close();
                } catch (RuntimeException e2) {
                    e.addSuppressed(e2);
                }
            } else {
                try {
                    device.close();
                    // queues the constructor acquired before it failed: their memory and the transport go now
                    for (int i = 0; i < device.queueCount(); i++) {
                        if (device.queueOwner(i) == Thread.currentThread()) {
                            device.releaseQueue(device.queue(i));
                        }
                    }
                } catch (RuntimeException e2) {
                    e.addSuppressed(e2);
                }
                if (ownsMemory) {
                    memory.close();
                }
            }
            throw e;
        }
    }

    /**
     * Connects to a vhost-user-scsi target (SPDK's vhost app, jvirtio's target) on its Unix socket and
     * attaches it, with a memory domain of its own.
     */
    public static VirtioScsiController connectVhostUser(String name, Path socket, VirtioScsiOptions options) {
        return connectVhostUser(name, socket, options, VhostUserOptions.defaults());
    }

    /** As {@link #connectVhostUser(String, Path, VirtioScsiOptions)} with vhost-user protocol options. */
    public static VirtioScsiController connectVhostUser(String name, Path socket, VirtioScsiOptions options, VhostUserOptions vhostUser) {
        return VhostUserAttach.attach(name, socket, options.memoryBytes(), options.hugePages(), vhostUser,
                (ops, memory) -> attach(name, ops, memory, true, options));
    }

    /**
     * Reads {@code struct virtio_scsi_config}, or takes SPDK's defaults when the transport cannot read
     * config ({@link TransportUnsupportedException}): a vhost-user back-end without
     * VHOST_USER_PROTOCOL_F_CONFIG (SPDK's vhost-scsi), or one that refuses GET_CONFIG.
     */
    static VirtioScsiConfig readConfig(VirtioDevice device, VirtioBackendOps ops) {
        String name = device.name();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cfg = arena.allocate(CFG_SIZE);
            device.readDevConfig(0, cfg);
            return VirtioScsiConfig.parse(name, cfg);
        } catch (TransportUnsupportedException e) {
            OptionalInt transportQueues = ops.getMaxQueues();
            VirtioScsiConfig c = VirtioScsiConfig.defaults(transportQueues);
            LOG.info("{}: the transport cannot read virtio_scsi_config ({}), as with SPDK's vhost-scsi: using SPDK's defaults"
                    + " (num_queues {}, sense 96, cdb 32, targets 0..{})", name, e.getMessage(),
                    transportQueues.isPresent() ? c.numQueues() + " from the transport" : "not reported", c.maxTarget());
            return c;
        }
    }

    // ---------------------------------------------------------------- accessors

    /** @return the controller name */
    public String name() {
        return device.name();
    }

    /** @return the underlying virtio device */
    public VirtioDevice device() {
        return device;
    }

    /** @return the config read at attach (or SPDK's defaults, {@link VirtioScsiConfig#fromDevice()} false) */
    public VirtioScsiConfig config() {
        return config;
    }

    /** @return the options the controller was attached with */
    public VirtioScsiOptions options() {
        return options;
    }

    /** @return the device memory: I/O buffers come from here */
    public MemoryDomain memory() {
        return device.memory();
    }

    /** @return request queues for I/O channels (the scan queue not counted) */
    public int ioQueueCount() {
        return options.requestQueues();
    }

    /** @return whether a request queue beyond the I/O queues is reserved for scans */
    public boolean hasDedicatedScanQueue() {
        return scanQueue != null;
    }

    /** @return the targets scanned: 0..targetCount-1 */
    public int targetCount() {
        return targetCount;
    }

    /** @return the LUN bdevs, by target then LUN */
    public List<VirtioScsiDisk> bdevs() {
        return List.copyOf(disks.values());
    }

    /** @return the bdev of LUN {@code lun} of target {@code target} */
    public Optional<VirtioScsiDisk> disk(int target, int lun) {
        return Optional.ofNullable(disks.get(key(target, lun)));
    }

    /** @return the bdev named {@code name} */
    public Optional<VirtioScsiDisk> bdev(String name) {
        for (VirtioScsiDisk d : disks.values()) {
            if (d.name().equals(name)) {
                return Optional.of(d);
            }
        }
        return Optional.empty();
    }

    /** Registers a listener for bdevs found or removed from now on. */
    public void addListener(BdevListener listener) {
        listeners.add(listener);
    }

    /** Unregisters a listener. */
    public void removeListener(BdevListener listener) {
        listeners.remove(listener);
    }

    /** @return SPDK's {@code driver_specific} of every LUN bdev: {@code {"virtio": {"vq_count", "vq_size", "type", "socket"}}} */
    public Map<String, Object> driverSpecificInfo() {
        Map<String, Object> virtio = new LinkedHashMap<>();
        virtio.put("vq_count", queueCount);
        virtio.put("vq_size", queueSize);
        virtio.putAll(device.backend().dumpJsonInfo());
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("virtio", virtio);
        return out;
    }

    private static int key(int target, int lun) {
        return (target << 16) | lun;
    }

    ControlQueue control() {
        return control;
    }

    boolean isDeviceClosed() {
        return deviceClosed;
    }

    int removalEpoch() {
        return removalEpoch;
    }

    /**
     * @return the most descriptors one command may chain: never more than the queue size, and with
     *         indirect descriptors no more than one indirect table (one ring slot per command)
     */
    int maxChainDescriptors(int size) {
        return device.hasFeature(VIRTIO_RING_F_INDIRECT_DESC) ? Math.min(size, MAX_INDIRECT) : size;
    }

    // ---------------------------------------------------------------- channels and queues

    synchronized VirtioScsiChannel openChannel(VirtioScsiDisk disk) {
        if (closed) {
            throw new BdevIoException(Reason.CLOSED, "bdev " + disk.name() + ": controller " + name() + " is closed");
        }
        if (disk.removed) {
            throw disk.removedError("open channel", -1);
        }
        ScsiRequestQueue q = acquireThreadQueueLocked();
        if (q == null) {
            int broken = device.brokenQueues(firstIoQueue);
            throw new BdevIoException(Reason.RESOURCES_EXHAUSTED, "bdev " + disk.name() + ": all " + options.requestQueues() + " request queues of controller "
                    + name() + " are taken by other threads"
                    + (broken > 0 ? " or out of service (" + broken + " broken by the device; see the log)" : "")
                    + " (one queue per thread, shared by all its LUN channels; attach with more request queues, vq_count)");
        }
        int depth = options.channelDepth() > 0 ? options.channelDepth() : q.vq.size();
        VirtioScsiChannel ch = new VirtioScsiChannel(disk, q, depth);
        try {
            disk.channelOpened(ch);
        } catch (RuntimeException e) {
            releaseThreadQueueLocked(q);
            throw e;
        }
        q.addChannel(ch, depth);
        return ch;
    }

    void channelClosed(VirtioScsiChannel ch) {
        ch.disk.channelClosed(ch);
        synchronized (this) {
            ch.queue.removeChannel(ch);
            releaseThreadQueueLocked(ch.queue);
        }
    }

    /** @return the calling thread's request queue (taking a free one if it has none), or null when none is free */
    private ScsiRequestQueue acquireThreadQueueLocked() {
        Thread me = Thread.currentThread();
        ScsiRequestQueue q = threadQueues.get(me);
        if (q != null) {
            q.refs++;
            return q;
        }
        SplitVirtqueue vq = device.findAndAcquireQueue(firstIoQueue);
        if (vq == null) {
            for (Iterator<ScsiRequestQueue> it = parked.iterator(); it.hasNext(); ) {
                ScsiRequestQueue p = it.next();
                if (!p.vq.isBroken()) {
                    it.remove();
                    p.owner = me;
                    p.refs = 1;
                    threadQueues.put(me, p);
                    LOG.info("{}: reusing {} ({} command(s) the device has not completed yet)", name(), p.vq.name(), p.cmdsOutstanding());
                    return p;
                }
            }
            return null;
        }
        try {
            q = new ScsiRequestQueue(this, vq, me);
        } catch (RuntimeException e) {
            device.releaseQueue(vq);
            throw e;
        }
        q.refs = 1;
        threadQueues.put(me, q);
        openQueues++;
        return q;
    }

    private void releaseThreadQueueLocked(ScsiRequestQueue q) {
        if (--q.refs > 0) {
            return;
        }
        threadQueues.remove(q.owner, q);
        if (q.cmdsOutstanding() > 0 && !deviceClosed && !q.vq.isBroken()) {
            // the device still owns commands of this ring and may complete into it: never hand it back to the
            // device layer (which would free the ring); park it for the next thread
            q.owner = null;
            parked.add(q);
            LOG.warn("{}: {} given up with {} command(s) the device has not completed; parked", name(), q.vq.name(),
                    q.cmdsOutstanding());
            return;
        }
        q.freeMemory();
        device.releaseQueue(q.vq);
        openQueues--;
        if (closed && openQueues == 0 && ownsMemory) {
            device.memory().close();
        }
    }

    // ---------------------------------------------------------------- scan

    private void initialScan() {
        scanLock.lock();
        try {
            if (!withScanner(s -> {
                for (int t = 0; t < targetCount; t++) {
                    scanTarget(s, t, true);
                }
            })) {
                throw new DeviceException(name() + ": no request queue free for the scan");
            }
        } finally {
            scanLock.unlock();
        }
    }

    /**
     * Runs {@code body} with a scanner on the scan queue, or on the calling thread's request queue.
     *
     * @return false when no queue was available (every request queue is held by another thread)
     */
    private boolean withScanner(Consumer<LunScanner> body) {
        ScsiRequestQueue q = scanQueue;
        boolean borrowed = false;
        if (q == null) {
            synchronized (this) {
                if (closed) {
                    return true;
                }
                q = acquireThreadQueueLocked();
            }
            if (q == null) {
                return false;
            }
            borrowed = true;
        }
        try (LunScanner s = new LunScanner(this, q, options.commandTimeout().toNanos())) {
            body.accept(s);
        } finally {
            if (borrowed) {
                synchronized (this) {
                    releaseThreadQueueLocked(q);
                }
            }
        }
        return true;
    }

    /** Scans one target: REPORT LUNS, then every LUN; adds, updates and removes bdevs. Caller holds scanLock. */
    private void scanTarget(LunScanner s, int target, boolean initial) {
        LunScanner.TargetLuns tl;
        try {
            tl = s.reportLuns(target);
        } catch (LunScanner.ScanException e) {
            scanFailed(e, target);
            return;
        }
        TreeMap<Integer, VirtioScsiDisk> existing = new TreeMap<>();
        for (VirtioScsiDisk d : disks.subMap(key(target, 0), key(target + 1, 0)).values()) {
            existing.put(d.lun, d);
        }
        switch (tl.state()) {
            case ABSENT -> {
                for (VirtioScsiDisk d : existing.values()) {
                    removeDisk(d, "target " + target + " no longer exists (" + tl.problem() + ")");
                }
                return;
            }
            case UNAVAILABLE -> {
                LOG.warn("{}: target {} is present but unavailable: {}", name(), target, tl.problem());
                return;
            }
            default -> {
            }
        }
        LOG.debug("{}: target {} reports LUNs {}", name(), target, tl.luns().keySet());
        for (VirtioScsiDisk d : existing.values()) {
            if (!tl.luns().containsKey(d.lun)) {
                removeDisk(d, "REPORT LUNS of target " + target + " no longer lists LUN " + d.lun);
            }
        }
        for (Map.Entry<Integer, Integer> e : tl.luns().entrySet()) {
            int lun = e.getKey();
            LunScanner.Probe p;
            try {
                p = s.probe(target, lun, e.getValue());
            } catch (LunScanner.ScanException ex) {
                scanFailed(ex, target);
                return;
            }
            VirtioScsiDisk d = existing.get(lun);
            if (p.info() != null) {
                ScsiLunInfo info = p.info();
                if (d == null) {
                    addDisk(info, p.readOnly(), initial);
                } else if (d.blockSize != info.blockSize() || d.readOnly() != p.readOnly()) {
                    removeDisk(d, "LUN changed its block size or write protection");
                    addDisk(info, p.readOnly(), initial);
                } else if (d.blockCount() != info.blockCount()) {
                    LOG.info("{}: {} capacity changed from {} to {} blocks", name(), d.name(), d.blockCount(), info.blockCount());
                    d.updateBlockCount(info.blockCount());
                }
            } else if (p.absent()) {
                if (d != null) {
                    removeDisk(d, p.problem());
                } else {
                    LOG.debug("{}: {}", name(), p.problem());
                }
            } else {
                LOG.warn("{}: {}{}", name(), p.problem(), d != null ? "; keeping bdev " + d.name() : "; no bdev");
            }
        }
    }

    private void scanFailed(LunScanner.ScanException e, int target) {
        if (deviceClosed) {
            throw e;
        }
        LOG.warn("{}: scan of target {} failed: {}", name(), target, e.getMessage());
        ScsiRequestQueue q = scanQueue;
        if (q != null && q.vq.isBroken()) {
            throw e;
        }
    }

    private void addDisk(ScsiLunInfo info, boolean readOnly, boolean initial) {
        String bdevName = VirtioScsiDisk.bdevName(name(), info.target(), info.lun());
        VirtioScsiDisk d = new VirtioScsiDisk(this, bdevName, info, readOnly, zeroBlock);
        disks.put(key(info.target(), info.lun()), d);
        LOG.info("{}: {}: target {} lun {}, {} x {} B ({} {} {}){}{}{}", name(), bdevName, info.target(), info.lun(),
                info.blockCount(), info.blockSize(), info.vendor(), info.product(), info.revision(),
                readOnly ? ", write-protected" : "", d.unmapSupported ? ", unmap" : "", d.writeSameSupported ? ", write same" : "");
        if (!initial) {
            for (BdevListener l : listeners) {
                try {
                    l.bdevAdded(d);
                } catch (RuntimeException ex) {
                    LOG.error("{}: listener {} threw on bdevAdded({})", name(), l, bdevName, ex);
                }
            }
        }
    }

    /** Starts removing a disk: I/O refused from now on; listeners hear of it once its channels drained. */
    private void removeDisk(VirtioScsiDisk d, String reason) {
        if (!disks.remove(key(d.target, d.lun), d)) {
            return;
        }
        d.markRemoved(reason);
        removing.add(d);
        removalEpoch++;
        LOG.info("{}: removing {}: {}", name(), d.name(), reason);
    }

    private void fireDrainedRemovals() {
        for (Iterator<VirtioScsiDisk> it = removing.iterator(); it.hasNext(); ) {
            VirtioScsiDisk d = it.next();
            if (d.removalComplete()) {
                it.remove();
                LOG.info("{}: {} removed", name(), d.name());
                for (BdevListener l : listeners) {
                    try {
                        l.bdevRemoved(d);
                    } catch (RuntimeException ex) {
                        LOG.error("{}: listener {} threw on bdevRemoved({})", name(), l, d.name(), ex);
                    }
                }
            }
        }
    }

    /**
     * Scans every target again (blocking, on the scan queue): new LUNs become bdevs, vanished ones are
     * removed, capacity changes are taken. Listeners are called before it returns.
     *
     * @throws DeviceException when no request queue is free for the scan
     */
    public void rescan() {
        scanLock.lock();
        try {
            ensureOpen();
            if (!withScanner(s -> {
                for (int t = 0; t < targetCount; t++) {
                    scanTarget(s, t, false);
                }
            })) {
                throw new DeviceException(name() + ": no request queue free for the rescan (all are held by I/O threads;"
                        + " attach with a spare request queue for a dedicated scan queue)");
            }
            fireDrainedRemovals();
        } finally {
            scanLock.unlock();
        }
    }

    /** Scans one target again; see {@link #rescan()}. */
    public void rescanTarget(int target) {
        if (target < 0 || target >= targetCount) {
            throw new IllegalArgumentException(name() + ": target " + target + " outside 0.." + (targetCount - 1));
        }
        scanLock.lock();
        try {
            ensureOpen();
            if (!withScanner(s -> scanTarget(s, target, false))) {
                throw new DeviceException(name() + ": no request queue free for the rescan of target " + target);
            }
            fireDrainedRemovals();
        } finally {
            scanLock.unlock();
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new DeviceException(name() + ": controller is closed");
        }
    }

    /** The I/O path saw BAD_TARGET or a unit attention that asks for a rescan; done at the next {@link #pollEvents()}. */
    void requestRescan(int target) {
        if (target >= 0 && target < targetCount) {
            rescanRequests.add(target);
        }
    }

    /** A command met a UNIT ATTENTION (it is retried); some ask for a rescan. */
    void unitAttention(int target, int lunAddress, ScsiSense sense) {
        LOG.debug("{}: target {} LUN address 0x{}: unit attention {}", name(), target, Integer.toHexString(lunAddress), sense.describe());
        if (sense.is(ScsiSpec.KEY_UNIT_ATTENTION, 0x3F, 0x0E) || sense.is(ScsiSpec.KEY_UNIT_ATTENTION, 0x2A, 0x09)
                || sense.is(ScsiSpec.KEY_UNIT_ATTENTION, 0x3F, 0x03)) {
            requestRescan(target);
        }
    }

    // ---------------------------------------------------------------- events

    /**
     * Takes what the event queue and the control queue completed and acts on it: TRANSPORT_RESET with
     * RESCAN (or HARD) rescans that target, with REMOVED removes that LUN's bdev, EVENTS_MISSED rescans
     * everything, PARAM_CHANGE for capacity or reported LUNs rescans the target; rescans the I/O path
     * asked for; tells {@link BdevListener}s of bdevs added and of removed bdevs whose I/O has drained.
     * Rescans run here, blocking (a timeout per command). Returns at once when another thread is in it.
     * Not to be called from an I/O completion callback.
     *
     * @return the number of events taken
     */
    public int pollEvents() {
        if (closed || !scanLock.tryLock()) {
            return 0;
        }
        try {
            if (closed) {
                return 0;
            }
            control.tryPoll();
            List<EventQueue.Event> evs = new ArrayList<>();
            int n = events.poll(evs);
            boolean full = fullRescanRequested;
            fullRescanRequested = false;
            TreeSet<Integer> targets = new TreeSet<>();
            for (Iterator<Integer> it = rescanRequests.iterator(); it.hasNext(); ) {
                targets.add(it.next());
                it.remove();
            }
            for (EventQueue.Event e : evs) {
                LOG.info("{}: event {}", name(), e);
                if (e.missed()) {
                    full = true;
                }
                switch (e.event()) {
                    case VIRTIO_SCSI_T_NO_EVENT -> {
                    }
                    case VIRTIO_SCSI_T_TRANSPORT_RESET -> {
                        if (e.reason() == VIRTIO_SCSI_EVT_RESET_REMOVED && e.lun() >= 0) {
                            VirtioScsiDisk d = disks.get(key(e.target(), e.lun()));
                            if (d != null) {
                                removeDisk(d, "hot-unplug event (VIRTIO_SCSI_EVT_RESET_REMOVED)");
                            }
                        } else {
                            requestTarget(targets, e.target());
                        }
                    }
                    case VIRTIO_SCSI_T_PARAM_CHANGE -> {
                        int asc = e.reason() & 0xFF;
                        int ascq = (e.reason() >>> 8) & 0xFF;
                        String what = ScsiSense.ascName(asc, ascq);
                        LOG.info("{}: target {} lun {}: parameters changed: ASC/ASCQ 0x{}/0x{} {}", name(), e.target(), e.lun(),
                                Integer.toHexString(asc), Integer.toHexString(ascq), what == null ? "" : what);
                        requestTarget(targets, e.target());
                    }
                    default -> LOG.debug("{}: event {} ignored", name(), e);
                }
            }
            if (full || !targets.isEmpty()) {
                boolean all = full;
                boolean ran = withScanner(s -> {
                    if (all) {
                        for (int t = 0; t < targetCount; t++) {
                            scanTarget(s, t, false);
                        }
                    } else {
                        for (int t : targets) {
                            scanTarget(s, t, false);
                        }
                    }
                });
                if (!ran) {
                    if (all) {
                        fullRescanRequested = true;
                    }
                    rescanRequests.addAll(targets);
                    if (!deferWarned) {
                        deferWarned = true;
                        LOG.warn("{}: a rescan waits: every request queue is held by an I/O thread (the scan runs on the polling"
                                + " thread's queue; attach with a spare request queue for a dedicated scan queue)", name());
                    }
                }
            }
            fireDrainedRemovals();
            return n;
        } catch (LunScanner.ScanException e) {
            if (!deviceClosed) {
                LOG.error("{}: rescan failed: {}", name(), e.getMessage());
            }
            return 0;
        } finally {
            scanLock.unlock();
        }
    }

    private void requestTarget(Set<Integer> targets, int target) {
        if (target < targetCount) {
            targets.add(target);
        } else {
            LOG.warn("{}: event for target {} outside the scanned targets 0..{}; ignored", name(), target, targetCount - 1);
        }
    }

    /** @return bdevs removed whose channels still hold I/O (listeners not called yet) */
    public int pendingRemovals() {
        scanLock.lock();
        try {
            return removing.size();
        } finally {
            scanLock.unlock();
        }
    }

    private void startEventThread() {
        if (options.eventPollPeriod().isZero()) {
            return;
        }
        long periodNanos = options.eventPollPeriod().toNanos();
        eventThread = Thread.ofPlatform().daemon().name("jvirtio-scsi-" + name() + "-events").start(() -> {
            while (!closed) {
                try {
                    pollEvents();
                } catch (RuntimeException e) {
                    LOG.error("{}: event poll failed", name(), e);
                }
                LockSupport.parkNanos(periodNanos);
            }
        });
    }

    // ---------------------------------------------------------------- close

    /**
     * Stops the event thread, resets the device, frees its queues and closes the transport. Open
     * channels fail their in-flight I/O on their next poll; owned memory is unmapped when the last of
     * them is closed. Listeners are not called: every bdev goes with the controller.
     */
    @Override
    public void close() {
        Thread t;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            t = eventThread;
        }
        if (t != null && t != Thread.currentThread()) {
            LockSupport.unpark(t);
            try {
                t.join(TimeUnit.SECONDS.toMillis(5) + options.commandTimeout().toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            device.close();
        } finally {
            deviceClosed = true;
            for (VirtioScsiDisk d : disks.values()) {
                d.markRemoved("controller " + name() + " closed");
            }
            removalEpoch++;
        }
        // a scan in another thread fails at its next poll now; wait for it to let go of the scan queue
        boolean locked = false;
        try {
            locked = scanLock.tryLock(options.commandTimeout().toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            synchronized (this) {
                control.release(device);
                events.free();
                device.releaseQueue(events.queue());
                if (scanQueue != null) {
                    scanQueue.freeMemory();
                    device.releaseQueue(scanQueue.vq);
                }
                for (ScsiRequestQueue q : parked) {
                    q.freeMemory();
                    device.releaseQueue(q.vq);
                    openQueues--;
                }
                parked.clear();
                if (!ownsMemory) {
                    device.memory().free(zeroBlock);
                }
                if (ownsMemory && openQueues == 0) {
                    device.memory().close();
                }
            }
        } finally {
            if (locked) {
                scanLock.unlock();
            }
        }
        LOG.info("{}: closed", name());
    }

    @Override
    public String toString() {
        return "VirtioScsiController[" + name() + ", " + disks.size() + " LUN(s), " + device.backend().transportType() + "]";
    }
}
