package io.jvirtio.scsi;

import io.jvirtio.bdev.jfr.AttachEvent;
import io.jvirtio.bdev.jfr.DetachEvent;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

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
 *
 * <h2>When the target goes away</h2>
 * With a {@link VirtioScsiOptions#reconnect()} policy the controller reconnects as a virtio-blk
 * device does: I/O waits (each I/O thread must keep polling, so that its request queue is handed to
 * the new target), the control, event and scan queues are handed over by a thread of the
 * controller's, and once the link is back every target is rescanned on that thread (LUNs that went
 * are removed, new ones added, {@link BdevListener}s called from there). A target that comes back
 * with another {@link VirtioScsiConfig}, queue count or feature set is refused and the controller
 * given up. While the link is down a reset returns false (poll and try again) and scans fail.
 */
public final class VirtioScsiController implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VirtioScsiController.class);
    /** the device type attach and detach events name */
    private static final String DEVICE_TYPE = "scsi";

    /** The driver features jvirtio's scsi driver understands. */
    public static final long DRIVER_FEATURES = VirtioFeatures.bit(VIRTIO_SCSI_F_INOUT) | VirtioFeatures.bit(VIRTIO_SCSI_F_HOTPLUG)
            | VirtioFeatures.bit(VIRTIO_SCSI_F_CHANGE) | VirtioFeatures.bit(VIRTIO_RING_F_EVENT_IDX)
            | VirtioFeatures.bit(VIRTIO_RING_F_INDIRECT_DESC);
    /** Descriptors in one indirect table. */
    static final int MAX_INDIRECT = VirtioDevice.DEFAULT_MAX_INDIRECT;
    /** The largest logical block accepted: the zeroed block WRITE SAME sends is this large. */
    static final int MAX_BLOCK_SIZE = 65536;

    /** How long close waits for the event thread beyond one scan command's timeout. */
    private static final long EVENT_THREAD_STOP_MILLIS = 5_000;
    /** How long close waits for a scan on another thread beyond one command's timeout. */
    private static final long SCAN_STOP_MILLIS = 1_000;

    private final VirtioDevice device;
    private final boolean ownsMemory;
    private final VirtioScsiConfig config;
    private final VirtioScsiOptions options;
    private final int queueCount;
    private final int queueSize;
    private final int targetCount;
    private final ControlQueue control;
    private final MemorySegment zeroBlock;
    private final DiskRegistry disks;
    private final RequestQueueAssignment queues;
    private final TargetScan scan;
    private final HotplugEvents hotplug;
    /** guards the event queue, scans, the disk set's changes and listener calls */
    private final ReentrantLock scanLock = new ReentrantLock();
    private final LinkHandover handover;
    private volatile boolean deviceClosed;

    private VirtioScsiController(VirtioDevice device, boolean ownsMemory, VirtioScsiConfig config, VirtioScsiOptions options,
                                 boolean dedicatedScan) {
        this.device = device;
        this.ownsMemory = ownsMemory;
        this.config = config;
        this.options = options;
        this.queueCount = device.queueCount();
        this.queueSize = device.queue(0).size();
        this.targetCount = options.scanTargets() > 0 ? options.scanTargets() : config.targetCount();
        this.disks = new DiskRegistry(device.name());
        Virtqueue ctrlq = device.acquireQueue(CONTROLQ);
        Virtqueue eventq = device.acquireQueue(EVENTQ);
        this.control = new ControlQueue(device.name(), ctrlq, device.memory(), () -> device.transportLost() != null);
        EventQueue events = new EventQueue(device.name(), eventq, device.memory(), config.eventBufferSize());
        ControllerPort ioPath = new IoPath();
        this.queues = new RequestQueueAssignment(device, (vq, owner) -> new ScsiRequestQueue(ioPath, vq, owner), this::isDeviceClosed,
                dedicatedScan, options.requestQueues(), options.channelDepth(), ownsMemory);
        this.zeroBlock = device.memory().allocate(MAX_BLOCK_SIZE, 4096);
        this.scan = new TargetScan(device.name(), device.memory(), targetCount, options.commandTimeout().toNanos(), queues, disks,
                this::newDisk, this::isDeviceClosed, () -> device.transportLost() != null);
        this.hotplug = new HotplugEvents(device.name(), events, control, scan);
        this.handover = new LinkHandover(device, control, events, queues.dedicatedScanQueue(), queues, scanLock,
                this::rescanAfterReconnect, queues::isClosed);
    }

    private VirtioScsiDisk newDisk(ScsiLunInfo info, boolean readOnly) {
        return new VirtioScsiDisk(this, VirtioScsiDisk.bdevName(name(), info.target(), info.lun()), info, readOnly, zeroBlock);
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
        return attach(name, ops, memory, ownsMemory, options, false);
    }

    /**
     * As {@link #attach(String, VirtioBackendOps, MemoryDomain, boolean, VirtioScsiOptions)}, with one request queue
     * for each the device has ({@code num_queues}, no more than the transport reports beside the control and event
     * queues) instead of {@link VirtioScsiOptions#requestQueues()}, and so no dedicated scan queue: what SPDK's PCI
     * attach does, where {@code vq_count} cannot be given. {@link #options()} then holds the count used. A device
     * that reports its queues neither in its config nor through the transport gets the requested count.
     */
    public static VirtioScsiController attachWithDeviceQueues(String name, VirtioBackendOps ops, MemoryDomain memory,
                                                              boolean ownsMemory, VirtioScsiOptions options) {
        return attach(name, ops, memory, ownsMemory, options, true);
    }

    private static VirtioScsiController attach(String name, VirtioBackendOps ops, MemoryDomain memory, boolean ownsMemory,
                                               VirtioScsiOptions requested, boolean deviceQueues) {
        VirtioScsiOptions options = requested;
        AttachEvent event = new AttachEvent();
        event.begin();
        VirtioDevice device = new VirtioDevice(name, ops, memory);
        VirtioScsiController ctrl = null;
        try {
            device.negotiate(DRIVER_FEATURES, options.ringType());
            VirtioScsiConfig config = VirtioScsiConfig.read(device);
            OptionalInt transportMax = ops.getMaxQueues();
            // neither the device nor the transport says how many queues there are: take what was asked
            // for (the transport refuses an index it cannot address) and spare none for scans
            boolean known = config.fromDevice() || transportMax.isPresent();
            int transportRequestQueues = transportMax.orElse(Integer.MAX_VALUE) - FIXED_QUEUES;
            int available = known ? Math.min(config.numQueues(), transportRequestQueues) : options.requestQueues();
            if (deviceQueues && known) {
                options = options.withRequestQueues(Math.max(1, available));
            }
            if (options.requestQueues() > available) {
                throw new DeviceException(name + ": " + options.requestQueues() + " request queues requested, the device has "
                        + available + " (num_queues " + config.numQueues() + (config.fromDevice() ? "" : " from the transport")
                        + (transportMax.isPresent() ? ", transport limit " + transportRequestQueues : "")
                        + " besides the control and event queues)");
            }
            boolean dedicated = options.dedicatedScanQueue() && known && available > options.requestQueues();
            device.start(FIXED_QUEUES + options.requestQueues() + (dedicated ? 1 : 0), FIXED_QUEUES, options.queueSize(), MAX_INDIRECT);
            ctrl = new VirtioScsiController(device, ownsMemory, config, options, dedicated);
            ctrl.hotplug.postBuffers();
            ctrl.initialScan();
            // from here on, not before: a target lost during the attach fails the attach
            device.addLinkListener(ctrl.handover);
            VirtioScsiController c = ctrl;
            device.superviseLink(options.reconnect(), c::checkSameController);
            ctrl.hotplug.startThread(options.eventPollPeriod(), ctrl::pollEvents);
            LOG.info("{}: virtio-scsi attached over {}: {} LUN bdev(s) on targets 0..{}, {} request queue(s){} of {}, config {}, features 0x{}",
                    name, ops.transportType(), ctrl.disks.size(), ctrl.targetCount - 1, options.requestQueues(),
                    dedicated ? " + 1 scan queue" : "", ctrl.queueSize, config.fromDevice() ? "from the device" : "SPDK defaults",
                    Long.toHexString(device.negotiatedFeatures()));
            if (event.shouldCommit()) {
                event.name = name;
                event.deviceType = DEVICE_TYPE;
                event.requestQueues = options.requestQueues();
                event.queueSize = ctrl.queueSize;
                event.bdevs = ctrl.disks.size();
                event.commit();
            }
            return ctrl;
        } catch (RuntimeException e) {
            if (ctrl != null) {
                try {
                    ctrl.close();
                } catch (RuntimeException e2) {
                    e.addSuppressed(e2);
                }
            } else {
                device.abandonAttach(e, ownsMemory);
            }
            throw e;
        }
    }

    /**
     * A target that came back must be this controller: the same {@code virtio_scsi_config} (queues,
     * limits, targets, sizes), or SPDK's defaults again when config cannot be read.
     *
     * @throws DeviceException naming every field that differs
     */
    private void checkSameController() {
        SameConfig.require(config, VirtioScsiConfig.read(device));
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
     * Attaches the virtio-scsi PCI function at {@code address} (bound to vfio-pci) through kernel VFIO, with a
     * memory domain of its own mapped for the device's DMA, and scans its targets (SPDK's
     * {@code bdev_virtio_pci_scsi_dev_create}). The device sets the limits: {@link VirtioScsiOptions#requestQueues()}
     * must not exceed its {@code num_queues} (the default, 1, never does; a queue to spare becomes the scan queue) and
     * {@link VirtioScsiOptions#queueSize()} is cut to its queue size (e.g. 256 for QEMU's virtio-scsi-pci). A PCI
     * function cannot lose its peer, so a {@link VirtioScsiOptions#reconnect()} policy is accepted and never acts.
     * Setting up VFIO and binding: {@code docs/vfio.md}.
     *
     * @param name    the controller name; its bdevs are {@code <name>t<target>} and {@code <name>t<target>l<lun>}
     * @param address the function, e.g. {@code PciAddress.parse("0000:00:06.0")}
     * @param options queues, sizes, memory, scan and event settings
     * @throws io.jvirtio.spec.VirtioException naming the function when VFIO cannot open it (no {@code /dev/vfio}, not
     *                                         bound to vfio-pci, group not viable, ...) or it is not a usable
     *                                         virtio-scsi device (a function of another virtio type is refused by
     *                                         name); nothing stays open
     */
    public static VirtioScsiController attachPci(String name, PciAddress address, VirtioScsiOptions options) {
        return attachPci(name, address, options, VfioOptions.defaults(), VirtioPciOptions.defaults());
    }

    /**
     * As {@link #attachPci(String, PciAddress, VirtioScsiOptions)} with VFIO options (where {@code /dev/vfio} and
     * sysfs are, how BARs are reached) and virtio-pci transport options (reset timeout, config-generation retries).
     */
    public static VirtioScsiController attachPci(String name, PciAddress address, VirtioScsiOptions options, VfioOptions vfio,
                                                 VirtioPciOptions pci) {
        return VfioAttach.attach(name, address, options.memoryBytes(), options.hugePages(), vfio, pci.withVirtioId(VirtioPciSpec.VIRTIO_ID_SCSI),
                (ops, memory) -> attach(name, ops, memory, true, options));
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
        return queues.dedicatedScanQueue() != null;
    }

    /** @return the targets scanned: 0..targetCount-1 */
    public int targetCount() {
        return targetCount;
    }

    /** @return the LUN bdevs, by target then LUN */
    public List<VirtioScsiDisk> bdevs() {
        return disks.list();
    }

    /** @return the bdev of LUN {@code lun} of target {@code target} */
    public Optional<VirtioScsiDisk> disk(int target, int lun) {
        return Optional.ofNullable(disks.get(target, lun));
    }

    /** @return the bdev named {@code name} */
    public Optional<VirtioScsiDisk> bdev(String name) {
        return disks.byName(name);
    }

    /** Registers a listener for bdevs found or removed from now on. */
    public void addListener(BdevListener listener) {
        disks.addListener(listener);
    }

    /** Unregisters a listener. */
    public void removeListener(BdevListener listener) {
        disks.removeListener(listener);
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

    // ---------------------------------------------------------------- for the disks and the I/O path

    boolean isDeviceClosed() {
        return deviceClosed;
    }

    VirtioScsiChannel openChannel(VirtioScsiDisk disk) {
        return queues.openChannel(disk);
    }

    /** The controller as its request queues and channels see it: all they may ask of it. */
    private final class IoPath implements ControllerPort {
        @Override
        public String name() {
            return VirtioScsiController.this.name();
        }

        @Override
        public MemoryDomain memory() {
            return device.memory();
        }

        @Override
        public VirtioScsiConfig config() {
            return config;
        }

        /** Never more than the queue size; with indirect descriptors, no more than one indirect table (one ring slot per command). */
        @Override
        public int maxChainDescriptors(int queueSize) {
            return device.hasFeature(VIRTIO_RING_F_INDIRECT_DESC) ? Math.min(queueSize, MAX_INDIRECT) : queueSize;
        }

        @Override
        public boolean isDeviceClosed() {
            return deviceClosed;
        }

        @Override
        public String transportType() {
            return device.transportType();
        }

        @Override
        public int completionFd(Virtqueue vq) {
            return device.completionFd(vq);
        }

        @Override
        public String transportLost() {
            return device.transportLost();
        }

        @Override
        public boolean refusesIo() {
            return device.refusesIo();
        }

        @Override
        public String linkDownMessage() {
            return device.linkDownMessage();
        }

        @Override
        public int linkDownStep(Virtqueue vq) {
            return device.linkDownStep(vq);
        }

        @Override
        public int removalEpoch() {
            return disks.removalEpoch();
        }

        @Override
        public ControlQueue control() {
            return control;
        }

        /** Done at the next {@link VirtioScsiController#pollEvents()}. */
        @Override
        public void requestRescan(int target) {
            hotplug.requestRescan(target);
        }

        @Override
        public void unitAttention(int target, int lunAddress, ScsiSense sense) {
            hotplug.unitAttention(target, lunAddress, sense);
        }

        @Override
        public void channelClosed(VirtioScsiChannel channel) {
            queues.channelClosed(channel);
        }
    }

    // ---------------------------------------------------------------- scans and events

    private void initialScan() {
        scanLock.lock();
        try {
            if (!scan.initialScan()) {
                throw new DeviceException(name() + ": no request queue free for the scan");
            }
        } finally {
            scanLock.unlock();
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
            if (!scan.rescanAll()) {
                throw new DeviceException(name() + ": no request queue free for the rescan (all are held by I/O threads;"
                        + " attach with a spare request queue for a dedicated scan queue)");
            }
            disks.announceDrainedRemovals();
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
            if (!scan.rescan(List.of(target))) {
                throw new DeviceException(name() + ": no request queue free for the rescan of target " + target);
            }
            disks.announceDrainedRemovals();
        } finally {
            scanLock.unlock();
        }
    }

    /**
     * After a reconnect (the hand-over thread, holding the scan lock): every target scanned again, as
     * {@link #rescan()} does, since the target that came back may serve other LUNs; kept for the next
     * {@link #pollEvents()} when it cannot run now.
     */
    private void rescanAfterReconnect() {
        if (queues.isClosed()) {
            return;
        }
        try {
            if (scan.rescanAll()) {
                disks.announceDrainedRemovals();
                LOG.info("{}: targets rescanned after the reconnect: {} LUN bdev(s)", name(), disks.size());
            } else {
                hotplug.requestFullRescan();
                LOG.warn("{}: the rescan after the reconnect waits for a free request queue (the next pollEvents)", name());
            }
        } catch (RuntimeException e) {
            if (device.transportLost() != null) {
                // the next reconnect rescans again
                LOG.info("{}: the rescan after the reconnect stopped, the link went down again: {}", name(), e.getMessage());
            } else if (!deviceClosed) {
                hotplug.requestFullRescan();
                LOG.warn("{}: the rescan after the reconnect failed: {}; tried again at the next pollEvents", name(), e.getMessage());
            }
        }
    }

    private void ensureOpen() {
        if (queues.isClosed()) {
            throw new DeviceException(name() + ": controller is closed");
        }
    }

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
        if (queues.isClosed() || !scanLock.tryLock()) {
            return 0;
        }
        try {
            return queues.isClosed() ? 0 : hotplug.poll();
        } catch (ScanException e) {
            if (device.transportLost() != null) {
                LOG.info("{}: rescan stopped: {} (every target is rescanned once the link is back)", name(), e.getMessage());
            } else if (!deviceClosed) {
                LOG.error("{}: rescan failed: {}", name(), e.getMessage());
            }
            return 0;
        } finally {
            scanLock.unlock();
        }
    }

    /** @return bdevs removed whose channels still hold I/O (listeners not called yet) */
    public int pendingRemovals() {
        scanLock.lock();
        try {
            return disks.pendingRemovals();
        } finally {
            scanLock.unlock();
        }
    }

    // ---------------------------------------------------------------- close

    /**
     * Stops the event thread, resets the device, frees its queues and closes the transport. Open
     * channels fail their in-flight I/O on their next poll; owned memory is unmapped when the last of
     * them is closed. Listeners are not called: every bdev goes with the controller.
     */
    @Override
    public void close() {
        if (!queues.markClosed()) {
            return;
        }
        DetachEvent event = new DetachEvent();
        event.begin();
        hotplug.stopThread(EVENT_THREAD_STOP_MILLIS + options.commandTimeout().toMillis());
        handover.awaitEnd(EVENT_THREAD_STOP_MILLIS + options.commandTimeout().toMillis());
        resetDevice();
        boolean locked = awaitScan();
        try {
            releaseQueues();
        } finally {
            if (locked) {
                scanLock.unlock();
            }
        }
        LOG.info("{}: closed", name());
        if (event.shouldCommit()) {
            event.name = name();
            event.deviceType = DEVICE_TYPE;
            event.commit();
        }
    }

    /** Resets the device and closes the transport; from now on channels fail their I/O and every LUN refuses more. */
    private void resetDevice() {
        try {
            device.close();
        } finally {
            deviceClosed = true;
            disks.markAllRemoved("controller " + name() + " closed");
        }
    }

    /**
     * A scan on another thread fails at its next poll now: waits for it to let go of the scan queue.
     *
     * @return whether the scan lock is held (to be unlocked by the caller)
     */
    private boolean awaitScan() {
        try {
            return scanLock.tryLock(options.commandTimeout().toMillis() + SCAN_STOP_MILLIS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Gives back the control and event queues, the zero block and the request queues no thread holds. */
    private void releaseQueues() {
        control.release(device);
        hotplug.release(device);
        if (!ownsMemory) {
            device.memory().free(zeroBlock);
        }
        queues.releaseAtClose();
    }

    @Override
    public String toString() {
        return "VirtioScsiController[" + name() + ", " + disks.size() + " LUN(s), " + device.backend().transportType() + "]";
    }
}
