package io.jvirtio.backend.scsi;

import io.jvirtio.backend.device.DeviceRequest;
import io.jvirtio.backend.device.VirtioDeviceModel;
import io.jvirtio.backend.fault.FaultAwareModel;
import io.jvirtio.backend.fault.InjectedError;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.scsi.VirtioScsiSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Predicate;

/**
 * The virtio-scsi device model (virtio spec 5.6): a SCSI host with targets 0..max_target, each with
 * LUNs over {@link io.jvirtio.backend.store.BlockStore}s, emulating a direct-access block device per
 * LUN (SPC-4 / SBC-3 subset). Queue 0 is the control queue (TMF, AN), queue 1 the event queue
 * (hot-plug events), queues 2.. the request queues.
 *
 * <p>{@link #handle} is called from the transport's queue threads; {@link #addLun}, {@link #removeLun}
 * and {@link #faults()} from any thread. Commands run on the calling queue thread, except delayed ones
 * (fault injection), which run on the model's scheduler thread.
 *
 * <p>Failures injected by the transport ({@link FaultAwareModel}) end request-queue commands with
 * CHECK CONDITION and the given sense, or MEDIUM ERROR / UNRECOVERED READ ERROR (3/11/00); finer
 * faults (virtio response codes, delays, filters by LUN and opcode, TMF answers, unit attentions,
 * NOT READY) are in {@link #faults()}.
 */
public final class VirtioScsiModel implements VirtioDeviceModel, FaultAwareModel {
    private static final Logger LOG = LoggerFactory.getLogger(VirtioScsiModel.class);
    private static final Duration REMOVE_DRAIN_TIMEOUT = Duration.ofSeconds(30);
    /** How long queueStopped / reset / close wait for commands running off the queue threads. */
    private static final Duration QUIESCE_TIMEOUT = Duration.ofSeconds(5);

    private final ScsiModelOptions config;
    private final ScsiConfigSpace configSpace;
    private final AtomicReferenceArray<ScsiTarget> targets = new AtomicReferenceArray<>(256);
    /** Serializes hot-plug changes and their events. */
    private final Object topologyLock = new Object();
    private final TaskRegistry inflight = new TaskRegistry();
    private final EventQueueHandler events;
    private final ControlQueueHandler control;
    private final ScsiFaults faults;
    private volatile long negotiated;
    private volatile boolean hotplugActive;
    private volatile boolean paramChangeActive;
    private ScheduledExecutorService scheduler;
    private boolean closed;

    public VirtioScsiModel(ScsiModelOptions config) {
        this.config = config;
        this.configSpace = new ScsiConfigSpace(config.name(), config);
        this.events = new EventQueueHandler(config.name());
        this.control = new ControlQueueHandler(this);
        this.faults = new ScsiFaults(this);
    }

    /** @return a model with {@link ScsiModelOptions#defaults()} and no LUN */
    public static VirtioScsiModel withDefaults() {
        return new VirtioScsiModel(ScsiModelOptions.defaults());
    }

    public ScsiModelOptions config() {
        return config;
    }

    // ---------------------------------------------------------------- topology

    /**
     * Attaches {@code l} as LUN {@code lun} of {@code target}. Once the driver has negotiated
     * VIRTIO_SCSI_F_HOTPLUG this sends VIRTIO_SCSI_T_TRANSPORT_RESET / RESCAN for it (or records a
     * missed event when no event buffer is posted).
     *
     * @return {@code l}
     * @throws IllegalArgumentException when the numbers exceed max_target / max_lun
     * @throws IllegalStateException    when that LUN is taken or {@code l} is attached elsewhere
     */
    public ScsiLun addLun(int target, int lun, ScsiLun l) {
        checkAddress(target, lun);
        synchronized (topologyLock) {
            ScsiTarget t = targets.updateAndGet(target, x -> x != null ? x : new ScsiTarget(target));
            if (t.lun(lun) != null) {
                throw new IllegalStateException(name() + ": target " + target + " already has LUN " + lun);
            }
            l.attach(target, lun, config.name() + "-t" + target + "-l" + lun);
            t.put(lun, l);
            LOG.info("{}: added {}", name(), l);
            lunChanged(t, lun, VirtioScsiSpec.VIRTIO_SCSI_EVT_RESET_RESCAN);
        }
        return l;
    }

    /**
     * Detaches LUN {@code lun} of {@code target}: sends VIRTIO_SCSI_T_TRANSPORT_RESET / REMOVED, runs its
     * delayed commands now (they find no LUN: CHECK CONDITION LOGICAL UNIT NOT SUPPORTED, or BAD_TARGET
     * when the target has no LUN left) and waits for its running commands, so that the caller may close
     * its store on return.
     *
     * @return the detached LUN
     * @throws NoSuchElementException when there is no such LUN
     */
    public ScsiLun removeLun(int target, int lun) {
        ScsiLun l;
        synchronized (topologyLock) {
            ScsiTarget t = target(target);
            l = t == null ? null : t.remove(lun);
            if (l == null) {
                throw new NoSuchElementException(name() + ": no LUN " + lun + " on target " + target);
            }
            l.detach();
            LOG.info("{}: removed {}", name(), l);
            lunChanged(t, lun, VirtioScsiSpec.VIRTIO_SCSI_EVT_RESET_REMOVED);
        }
        ScsiLun gone = l;
        for (ScsiTask.Snapshot task : inflight(x -> x.lun == gone)) {
            if (task.start()) {
                run(task.task());
            }
        }
        try {
            ScsiTask.allDone(inflight(x -> x.lun == gone)).get(REMOVE_DRAIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            LOG.warn("{}: commands of removed {} still running after {}", name(), l, REMOVE_DRAIN_TIMEOUT);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            LOG.warn("{}: waiting for commands of removed {}: {}", name(), l, e.toString());
        }
        return l;
    }

    private void lunChanged(ScsiTarget t, int lun, int reason) {
        if (hotplugActive) {
            events.send(VirtioScsiSpec.VIRTIO_SCSI_T_TRANSPORT_RESET, LunAddress.encode(t.id(), lun), reason);
        }
        if (faults.unitAttentionOnLunChange()) {
            for (ScsiLun other : t.luns().values()) {
                if (other.lun() != lun) {
                    other.raiseUnitAttention(SenseCode.REPORTED_LUNS_CHANGED);
                }
            }
        }
    }

    /**
     * Reports a change of a LUN's parameters (virtio spec 5.6.6.3.1): a unit attention with {@code change}
     * (e.g. {@link SenseCode#CAPACITY_CHANGED}, 6/2A/09) on that LUN and, once the driver negotiated
     * VIRTIO_SCSI_F_CHANGE, a VIRTIO_SCSI_T_PARAM_CHANGE event whose reason holds the ASC and ASCQ.
     *
     * @throws NoSuchElementException when there is no such LUN
     * @throws IllegalArgumentException when {@code change} is not a UNIT ATTENTION
     */
    public void reportParameterChange(int target, int lun, SenseCode change) {
        if (!change.isUnitAttention()) {
            throw new IllegalArgumentException(change + " is not a UNIT ATTENTION");
        }
        synchronized (topologyLock) {
            requireLun(target, lun).raiseUnitAttention(change);
            if (paramChangeActive) {
                events.send(VirtioScsiSpec.VIRTIO_SCSI_T_PARAM_CHANGE, LunAddress.encode(target, lun), change.asc() | change.ascq() << 8);
            }
        }
    }

    /** @return target {@code id}, or null when no LUN was ever attached to it */
    public ScsiTarget target(int id) {
        return id < 0 || id > 255 ? null : targets.get(id);
    }

    /** @return the LUN, or null */
    public ScsiLun lun(int target, int lun) {
        ScsiTarget t = target(target);
        return t == null ? null : t.lun(lun);
    }

    /** @return the targets that have LUNs, by number */
    public List<ScsiTarget> targets() {
        List<ScsiTarget> l = new ArrayList<>();
        for (int i = 0; i < targets.length(); i++) {
            ScsiTarget t = targets.get(i);
            if (t != null && t.exists()) {
                l.add(t);
            }
        }
        return l;
    }

    ScsiLun requireLun(int target, int lun) {
        ScsiLun l = lun(target, lun);
        if (l == null) {
            throw new NoSuchElementException(name() + ": no LUN " + lun + " on target " + target);
        }
        return l;
    }

    private void checkAddress(int target, int lun) {
        if (target < 0 || target > config.maxTarget()) {
            throw new IllegalArgumentException(name() + ": target " + target + " is outside 0.." + config.maxTarget());
        }
        if (lun < 0 || lun > config.maxLun()) {
            throw new IllegalArgumentException(name() + ": LUN " + lun + " is outside 0.." + config.maxLun());
        }
    }

    /** @return the fault injection hooks */
    public ScsiFaults faults() {
        return faults;
    }

    // ---------------------------------------------------------------- VirtioDeviceModel

    @Override
    public int deviceId() {
        return VIRTIO_ID_SCSI;
    }

    @Override
    public String name() {
        return config.name();
    }

    @Override
    public long deviceFeatures() {
        long f = VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1)
                | VirtioFeatures.bit(VirtioFeatures.VIRTIO_RING_F_INDIRECT_DESC)
                | VirtioFeatures.bit(VirtioFeatures.VIRTIO_RING_F_EVENT_IDX)
                | VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_RING_PACKED);
        if (config.hotplug()) {
            f |= VirtioFeatures.bit(VirtioScsiSpec.VIRTIO_SCSI_F_HOTPLUG);
        }
        if (config.paramChange()) {
            f |= VirtioFeatures.bit(VirtioScsiSpec.VIRTIO_SCSI_F_CHANGE);
        }
        return f;
    }

    @Override
    public void featuresNegotiated(long features) {
        negotiated = features & deviceFeatures();
        hotplugActive = VirtioFeatures.has(negotiated, VirtioScsiSpec.VIRTIO_SCSI_F_HOTPLUG);
        paramChangeActive = VirtioFeatures.has(negotiated, VirtioScsiSpec.VIRTIO_SCSI_F_CHANGE);
        LOG.debug("{}: features 0x{} (hot-plug events {})", name(), Long.toHexString(negotiated), hotplugActive ? "on" : "off");
    }

    /** @return the negotiated features (0 before negotiation and after reset) */
    public long negotiatedFeatures() {
        return negotiated;
    }

    @Override
    public int numQueues() {
        return VirtioScsiSpec.REQUESTQ_BASE + config.requestQueues();
    }

    @Override
    public boolean isRequestQueue(int queueIndex) {
        return queueIndex >= VirtioScsiSpec.REQUESTQ_BASE;
    }

    @Override
    public int configSize() {
        return VirtioScsiSpec.CFG_SIZE;
    }

    @Override
    public void readConfig(int offset, MemorySegment dst) {
        configSpace.read(offset, dst);
    }

    @Override
    public void writeConfig(int offset, MemorySegment src) {
        configSpace.write(offset, src);
    }

    @Override
    public void handle(DeviceRequest request) {
        try {
            int q = request.queueIndex();
            if (q == VirtioScsiSpec.CONTROLQ) {
                control.handle(request);
            } else if (q == VirtioScsiSpec.EVENTQ) {
                events.post(request);
            } else if (q < numQueues()) {
                command(request);
            } else {
                LOG.error("{}: request on queue {} of {}", name(), q, numQueues());
                request.complete(0);
            }
        } catch (RuntimeException e) {
            // only reachable before a request is answered: commands, TMFs and events catch their own failures
            LOG.error("{}: request on queue {} failed: {}", name(), request.queueIndex(), e.toString(), e);
            request.complete(0);
        }
    }

    private void command(DeviceRequest r) {
        ScsiTask t = parse(r);
        if (t == null) {
            return;
        }
        t.decision = faults.decide(t.address, t.opcode());
        t.register();
        if (t.out.length() > 0 && t.in.length() > 0 && !VirtioFeatures.has(negotiated, VirtioScsiSpec.VIRTIO_SCSI_F_INOUT)) {
            t.fail(VirtioScsiSpec.VIRTIO_SCSI_S_FAILURE);                    // bidirectional without VIRTIO_SCSI_F_INOUT
            t.complete();
        } else if (t.decision.delayed()) {
            hold(t);
        } else {
            run(t);
        }
    }

    /**
     * Parses a request-queue request into a task, or answers it at once when it is malformed (header
     * or response buffer too short: VIRTIO_SCSI_S_FAILURE or an empty completion).
     *
     * @return the task, or null when the request was completed
     */
    private ScsiTask parse(DeviceRequest r) {
        int senseSize = configSpace.senseSize();
        int cdbSize = configSpace.cdbSize();
        long readable = r.readableBytes();
        long writable = r.writableBytes();
        if (readable < VirtioScsiSpec.REQ_HEADER_FIXED + (long) cdbSize
                || writable < VirtioScsiSpec.RESP_HEADER_FIXED + (long) senseSize) {
            LOG.warn("{}: command on queue {} with {} readable / {} writable bytes (header {} / response {})", name(),
                    r.queueIndex(), readable, writable, VirtioScsiSpec.REQ_HEADER_FIXED + cdbSize,
                    VirtioScsiSpec.RESP_HEADER_FIXED + senseSize);
            ScsiTask.failEarly(r, Iov.of(r, false), senseSize, VirtioScsiSpec.VIRTIO_SCSI_S_FAILURE);
            return null;
        }
        ScsiTask t = inflight.taskFor(r);
        t.reset(r, cdbSize, senseSize);
        ScsiTarget target = target(t.address.target());
        t.lun = target == null ? null : target.lun(t.address.lun());
        return t;
    }

    /**
     * A failure injected by the transport: a request-queue command ends with CHECK CONDITION and the
     * error's sense (MEDIUM ERROR, UNRECOVERED READ ERROR when it has none). Control and event queue
     * requests cannot fail this way.
     */
    @Override
    public boolean failRequest(DeviceRequest request, InjectedError error) {
        int q = request.queueIndex();
        if (q < VirtioScsiSpec.REQUESTQ_BASE || q >= numQueues()) {
            return false;
        }
        try {
            ScsiTask t = parse(request);
            if (t != null) {
                t.register();
                t.checkCondition(error.hasSense()
                        ? new SenseCode(error.senseKey(), Math.max(error.asc(), 0), Math.max(error.ascq(), 0))
                        : SenseCode.UNRECOVERED_READ_ERROR);
                t.complete();
            }
        } catch (RuntimeException e) {
            LOG.error("{}: injected failure on queue {}: {}", name(), q, e.toString());
            request.complete(0);
        }
        return true;
    }

    /** Runs {@code t} after its delay on the scheduler thread, unless a TMF, a stopped queue or a removal comes first. */
    private void hold(ScsiTask t) {
        t.hold();
        ScheduledExecutorService s = scheduler();
        try {
            if (s != null) {
                long generation = t.generation();
                t.setTimer(s.schedule(() -> {
                    if (t.start(generation)) {
                        run(t);
                    }
                }, t.decision.delay().toNanos(), TimeUnit.NANOSECONDS));
                return;
            }
        } catch (RejectedExecutionException e) {
            LOG.debug("{}: closing, {} runs at once", name(), t);
        }
        if (t.start(t.generation())) {
            run(t);
        }
    }

    private void run(ScsiTask t) {
        try {
            ScsiFaults.Decision d = t.decision;
            if (d.failsWithResponse()) {
                t.fail(d.response());
            } else if (d.sense() != null) {
                t.checkCondition(d.sense());
            } else {
                execute(t);
            }
        } catch (RuntimeException e) {
            LOG.error("{}: {} failed: {}", name(), t, e.toString(), e);
            t.checkCondition(SenseCode.INTERNAL_TARGET_FAILURE);
        } finally {
            t.complete();
        }
    }

    private void execute(ScsiTask t) {
        ScsiTarget target = target(t.address.target());
        if (target == null || !target.exists()) {
            t.fail(VirtioScsiSpec.VIRTIO_SCSI_S_BAD_TARGET);
            return;
        }
        ScsiLun lun = t.lun;
        if (lun == null || !lun.attached()) {
            lun = target.lun(t.address.lun());          // removed (or added) since the command arrived
            t.lun = lun;
        }
        ScsiCommands.execute(t, target, lun);
    }

    /** @return the commands in flight (running or held) that match */
    List<ScsiTask.Snapshot> inflight(Predicate<ScsiTask> which) {
        return inflight.snapshot(which);
    }

    /** @return how many commands are in flight (running or delayed) */
    public int inflightCount() {
        return inflight.count();
    }

    /** @return how many event buffers the driver has posted and the device holds */
    public int postedEventBuffers() {
        return events.postedBuffers();
    }

    /** @return whether an event was lost for want of a buffer and EVENTS_MISSED is still to be reported */
    public boolean eventsMissed() {
        return events.eventsMissed();
    }

    /** @return how many TMFs wait for commands to finish */
    public int pendingTmfCount() {
        return control.pendingCount();
    }

    /** @return the thread that runs delayed commands, or null once closed (they then run at once) */
    private synchronized ScheduledExecutorService scheduler() {
        if (closed) {
            return null;
        }
        if (scheduler == null) {
            ScheduledThreadPoolExecutor s = new ScheduledThreadPoolExecutor(1, r -> {
                Thread th = new Thread(r, "jvirtio-scsi-" + name() + "-delay");
                th.setDaemon(true);
                return th;
            });
            s.setRemoveOnCancelPolicy(true);
            scheduler = s;
        }
        return scheduler;
    }

    /**
     * Forgets what the model holds of that queue. On return the model no longer touches the buffers of
     * its requests: held commands are dropped, commands running off the queue threads (delayed ones,
     * on the scheduler; ones a removal runs) and event fills in progress are waited for (bounded), so
     * that the transport may unmap the memory afterwards.
     */
    @Override
    public void queueStopped(int queueIndex) {
        if (queueIndex == VirtioScsiSpec.EVENTQ) {
            int n = events.forgetBuffers().size();
            LOG.debug("{}: eventq stopped, {} buffers forgotten", name(), n);
        } else if (queueIndex == VirtioScsiSpec.CONTROLQ) {
            control.dropPending();
        }
        dropTasks(t -> t.queueIndex() == queueIndex);
        inflight.forgetQueue(queueIndex);
    }

    private void dropTasks(Predicate<ScsiTask> which) {
        List<ScsiTask.Snapshot> tasks = inflight(which);
        for (ScsiTask.Snapshot t : tasks) {
            t.drop();
        }
        try {
            ScsiTask.allDone(tasks).get(QUIESCE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            LOG.error("{}: {} command(s) still running {} after their queue stopped", name(), inflight(which).size(),
                    QUIESCE_TIMEOUT);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            LOG.warn("{}: waiting for commands of a stopped queue: {}", name(), e.toString());
        }
    }

    @Override
    public void reset() {
        dropTasks(t -> true);
        inflight.forgetAll();
        control.dropPending();
        events.reset();
        configSpace.reset();
        negotiated = 0;
        hotplugActive = false;
        paramChangeActive = false;
        // LUN states (NOT READY, pending unit attentions) stay: faults armed before a driver connects
        // must survive the reset it starts with
        LOG.debug("{}: reset", name());
    }

    @Override
    public void close() {
        dropTasks(t -> true);
        inflight.forgetAll();
        control.dropPending();
        events.reset();
        ScheduledExecutorService s;
        synchronized (this) {
            closed = true;
            s = scheduler;
            scheduler = null;
        }
        if (s != null) {
            s.shutdownNow();
        }
    }

    @Override
    public String toString() {
        return "virtio-scsi " + name() + " " + targets();
    }
}
