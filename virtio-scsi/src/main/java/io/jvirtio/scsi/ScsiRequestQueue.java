package io.jvirtio.scsi;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.bdev.IoType;
import io.jvirtio.bdev.driver.DriverRequestQueue;
import io.jvirtio.bdev.driver.SgCursor;
import io.jvirtio.core.VirtioDevice;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.ring.Virtqueue;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.spec.scsi.ScsiSpec;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static io.jvirtio.spec.scsi.VirtioScsiSpec.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * One request queue of a controller as one thread uses it: shared by every LUN channel that thread
 * opened on the controller (SPDK: one request queue per thread per controller), or held by the
 * controller for its scans. What is virtio-scsi in SPDK's {@code submit_request} (how a part of a
 * caller I/O becomes a SCSI command on the ring: request header and CDB, data-out, response,
 * data-in), and resending commands held for a retry. What a completion means is
 * {@link ScsiCompletion}'s; the shared life cycle (the command pool, the FIFO of waiting I/Os,
 * completing an I/O) is {@link DriverRequestQueue}'s; the CDBs are {@link ScsiCdb}'s, the retry rule
 * {@link ScsiRetryPolicy}'s. It reaches its controller only through a {@link ControllerPort}.
 *
 * <p>Submission and completion of successful I/O allocate nothing and make no syscall but the kick
 * the device asked for. Only the owning thread may call into it (the scan queue: whoever holds the
 * controller's scan lock).
 */
final class ScsiRequestQueue extends DriverRequestQueue<ScsiIo, ScsiCmd> {
    private static final int POLL_BATCH = 64;
    /** Largest data segment: a descriptor length is 32 bits. */
    static final long MAX_SEGMENT_BYTES = 1L << 30;

    final ControllerPort ctrl;
    final Virtqueue vq;
    /** the thread using the queue (null for the scan queue); changes only under {@link RequestQueueAssignment}'s monitor */
    Thread owner;
    /** the controller's dedicated scan queue (made without an owner thread); handed over by the controller on a link loss */
    private final boolean scanQueue;
    private final MemoryDomain memory;
    private final MemorySegment cmdMemory;
    private final int reqBytes;
    private final int respBytes;
    /** most data descriptors in one command: seg_max, and the chain limit minus request and response */
    final int maxDataSegments;
    private final SgCursor sg;
    private final RetryFifo retries;
    private final ScsiCompletion completion;

    /** LUN channels on this queue */
    final List<VirtioScsiChannel> channels = new ArrayList<>();
    /** channels + scans using the queue */
    int refs;
    private long nextSeq;
    private int removalEpochSeen;
    /** channels with a reset waiting */
    int resetsPending;
    private boolean deviceClosedSeen;

    ScsiRequestQueue(ControllerPort ctrl, Virtqueue vq, Thread owner) {
        VirtioScsiConfig cfg = ctrl.config();
        int reqBytes = cfg.requestBytes();
        int respOffset = align(reqBytes, 8);
        int paramOffset = align(respOffset + cfg.responseBytes(), 8);
        int stride = align(paramOffset + ScsiCmd.UNMAP_PARAM_BYTES, 64);
        MemorySegment cmdMemory = ctrl.memory().allocate((long) vq.size() * stride, 64);
        ScsiCmd[] cmds = new ScsiCmd[vq.size()];
        for (int i = 0; i < cmds.length; i++) {
            cmds[i] = new ScsiCmd(i, ((long) vq.index() << 32) | i, cmdMemory.asSlice((long) i * stride, stride), reqBytes,
                    respOffset, cfg.responseBytes(), paramOffset);
        }
        super(cmds, 0); // the FIFO grows as channels join
        this.ctrl = ctrl;
        this.vq = vq;
        this.owner = owner;
        this.scanQueue = owner == null;
        this.memory = ctrl.memory();
        this.cmdMemory = cmdMemory;
        this.reqBytes = reqBytes;
        this.respBytes = cfg.responseBytes();
        int chainLimit = ctrl.maxChainDescriptors(vq.size()) - 2;
        int segMax = cfg.segMax();
        this.maxDataSegments = Math.max(1, segMax > 0 ? Math.min(segMax, chainLimit) : chainLimit);
        this.sg = new SgCursor(maxDataSegments, MAX_SEGMENT_BYTES);
        this.retries = new RetryFifo(cmds.length);
        this.completion = new ScsiCompletion(this, ctrl, retries);
        this.removalEpochSeen = ctrl.removalEpoch();
    }

    private static int align(int v, int a) {
        return (v + a - 1) & -a;
    }

    /** A channel joins: the pending FIFO grows to hold all its I/Os. Owner thread, setup time. */
    void addChannel(VirtioScsiChannel ch, int depth) {
        channels.add(ch);
        growPending(depth);
    }

    void removeChannel(VirtioScsiChannel ch) {
        channels.remove(ch);
    }

    // ---------------------------------------------------------------- submission

    /** Starts a caller I/O (not a reset: that goes to the control queue), in submission order. */
    @Override
    protected String queueName() {
        return vq.name();
    }

    void begin(ScsiIo io) {
        io.seq = nextSeq++;
        start(io);
        vq.reqFlush();
    }

    /** A LUN removed while its I/O waited or was split: the rest of that I/O is refused. */
    @Override
    protected VirtioException refusal(ScsiIo io) {
        VirtioScsiDisk disk = io.channel.disk;
        return disk.removed ? disk.removedError(io.opName(), io.offset) : null;
    }

    @Override
    protected boolean submit(ScsiIo io, ScsiCmd cmd) {
        VirtioScsiDisk disk = io.channel.disk;
        return switch (io.op) {
            case READ, WRITE -> submitRw(io, cmd, disk);
            case FLUSH -> submitFlush(io, cmd, disk);
            case UNMAP -> submitUnmap(io, cmd, disk);
            case WRITE_ZEROES -> submitWriteSame(io, cmd, disk);
            case RESET -> throw new IllegalStateException("a reset is a task management function, not a command");
        };
    }

    private boolean submitRw(ScsiIo io, ScsiCmd cmd, VirtioScsiDisk disk) {
        int bs = disk.blockSize;
        long bytes = sg.plan(io, Math.min(io.remaining, disk.maxRwBlocks) * bs, bs);
        if (bytes == 0) {
            throw disk.validator().tooFragmented(io.opName(), io.offset, maxDataSegments, ctrl.config().segMax());
        }
        long blocks = bytes / bs;
        boolean write = io.op == IoType.WRITE;
        cmd.opcode = ScsiCdb.readWrite(cmd.cdb, write, io.lba, blocks);
        cmd.iovs = io.iovs;
        cmd.iovIndex = io.iovIndex;
        cmd.iovOffset = io.iovOffset;
        cmd.bytes = bytes;
        cmd.dataOut = write;
        if (!send(cmd, disk, io.lba, blocks)) {
            return false;
        }
        sg.commit(io);
        io.lba += blocks;
        io.remaining -= blocks;
        return true;
    }

    private boolean submitFlush(ScsiIo io, ScsiCmd cmd, VirtioScsiDisk disk) {
        cmd.opcode = ScsiCdb.synchronizeCache(cmd.cdb, disk.blockCount());
        noData(cmd);
        if (!send(cmd, disk, 0, 0)) {
            return false;
        }
        io.remaining = 0;
        return true;
    }

    private boolean submitUnmap(ScsiIo io, ScsiCmd cmd, VirtioScsiDisk disk) {
        long blocks = ScsiCdb.unmapBlocks(Math.min(io.remaining, disk.unmapBlocksPerCmd), disk.unmapDescriptorsPerCmd);
        int paramLen = ScsiCdb.unmapParameters(cmd.params, io.lba, blocks, disk.unmapDescriptorsPerCmd);
        cmd.opcode = ScsiCdb.unmap(cmd.cdb, paramLen);
        data(cmd, cmd.paramIov, paramLen, true);
        return sendBlocks(io, cmd, disk, blocks);
    }

    private boolean submitWriteSame(ScsiIo io, ScsiCmd cmd, VirtioScsiDisk disk) {
        long blocks = Math.min(io.remaining, disk.writeSameBlocksPerCmd);
        cmd.opcode = ScsiCdb.writeSame16(cmd.cdb, io.lba, blocks, disk.writeSameUnmap);
        data(cmd, disk.zeroBlock, disk.blockSize, true);
        return sendBlocks(io, cmd, disk, blocks);
    }

    /** Sends a command whose data is the driver's own (UNMAP list, zero block) and moves {@code io} past its blocks. */
    private boolean sendBlocks(ScsiIo io, ScsiCmd cmd, VirtioScsiDisk disk, long blocks) {
        if (!send(cmd, disk, io.lba, blocks)) {
            return false;
        }
        io.lba += blocks;
        io.remaining -= blocks;
        return true;
    }

    /** The command's data is the first {@code bytes} of {@code iovs}: a buffer of the driver's own. */
    private void data(ScsiCmd cmd, MemorySegment[] iovs, long bytes, boolean out) {
        cmd.iovs = iovs;
        cmd.iovIndex = 0;
        cmd.iovOffset = 0;
        cmd.bytes = bytes;
        cmd.dataOut = out;
        planAgain(cmd);
    }

    private static void noData(ScsiCmd cmd) {
        cmd.iovs = null;
        cmd.bytes = 0;
        cmd.dataOut = false;
    }

    /** Plans {@code cmd}'s data from where it starts: its bytes were decided already (driver data, a retry). */
    private void planAgain(ScsiCmd cmd) {
        if (cmd.bytes > 0) {
            sg.plan(cmd.iovs, cmd.iovIndex, cmd.iovOffset, cmd.bytes, 1);
        }
    }

    private boolean send(ScsiCmd cmd, VirtioScsiDisk disk, long lba, long blocks) {
        cmd.target = disk.target;
        cmd.lunAddress = disk.lunAddress;
        cmd.lba = lba;
        cmd.blocks = blocks;
        cmd.unitAttentionRetries = 0;
        cmd.busyRetries = 0;
        writeHeader(cmd);
        return put(cmd);
    }

    private void writeHeader(ScsiCmd cmd) {
        ControlQueue.writeLun(cmd.req, REQ_LUN, cmd.target, cmd.lunAddress);
        cmd.req.set(LE_LONG, REQ_ID, cmd.id);
        cmd.req.set(JAVA_BYTE, REQ_TASK_ATTR, (byte) TASK_ATTR_SIMPLE);
        cmd.req.set(JAVA_BYTE, REQ_PRIO, (byte) 0);
        cmd.req.set(JAVA_BYTE, REQ_CRN, (byte) 0);
    }

    /**
     * Puts {@code cmd} on the ring as it stands (header and CDB written, its data planned in the
     * cursor): request, data-out, response, data-in, as virtio-scsi orders them.
     *
     * @return false when the ring is full now
     */
    private boolean put(ScsiCmd cmd) {
        int segs = cmd.bytes > 0 ? sg.segments() : 0;
        if (!vq.reqStart(cmd, 2 + segs)) {
            return false;
        }
        cmd.resp.set(LE_INT, RESP_SENSE_LEN, 0);
        cmd.resp.set(LE_INT, RESP_RESIDUAL, 0);
        cmd.resp.set(JAVA_BYTE, RESP_STATUS, (byte) 0);
        cmd.resp.set(JAVA_BYTE, RESP_RESPONSE, ScsiCmd.RESPONSE_UNSET);
        vq.reqAddIov(cmd.req.address(), reqBytes, false);
        if (cmd.dataOut) {
            addPlanned(segs, false);
        }
        vq.reqAddIov(cmd.resp.address(), respBytes, true);
        if (!cmd.dataOut) {
            addPlanned(segs, true);
        }
        return true;
    }

    private void addPlanned(int segs, boolean deviceWrites) {
        for (int i = 0; i < segs; i++) {
            vq.reqAddIov(sg.address(i), sg.length(i), deviceWrites);
        }
    }

    // ---------------------------------------------------------------- internal (scan) commands

    /** @return a free command for a scan, or null when every command is in use (poll, then ask again) */
    ScsiCmd takeInternal() {
        ScsiCmd cmd = takeRequest();
        if (cmd != null) {
            cmd.internal = new ScsiCmd.InternalResult();
        }
        return cmd;
    }

    /**
     * Submits a scan command whose CDB is written, with {@code payload} as data-in (or none).
     *
     * @return false when the ring is full now
     */
    boolean submitInternal(ScsiCmd cmd, int target, int lunAddress, MemorySegment payload) {
        cmd.target = target;
        cmd.lunAddress = lunAddress;
        cmd.opcode = Byte.toUnsignedInt(cmd.cdb.get(JAVA_BYTE, 0));
        if (payload != null && payload.byteSize() > 0) {
            cmd.single[0] = payload;
            data(cmd, cmd.single, payload.byteSize(), false);
        } else {
            noData(cmd);
        }
        writeHeader(cmd);
        if (!put(cmd)) {
            return false;
        }
        vq.reqFlush();
        return true;
    }

    /** Returns a scan command whose result was taken. */
    void releaseInternal(ScsiCmd cmd) {
        if (cmd.internal != null && cmd.internal.abandoned && !cmd.internal.done) {
            return; // the device still holds it: freed when it completes
        }
        requestDone(cmd);
    }

    // ---------------------------------------------------------------- completion

    /**
     * Takes completions from the device and runs their callbacks (every LUN of this queue), resubmits
     * retries that are due and resumes waiting I/Os.
     *
     * @return the number of caller I/Os completed
     */
    int poll() {
        int before = completed();
        if (ctrl.isDeviceClosed()) {
            if (!deviceClosedSeen) {
                deviceClosedSeen = true;
                failEverything(new BdevIoException(Reason.CLOSED, "controller " + ctrl.name() + " was closed with I/O in flight"));
            }
            return completed() - before;
        }
        vq.poll(POLL_BATCH, completion);
        if (ctrl.transportLost() != null && !linkBack()) {
            return completed() - before;
        }
        boolean flush = false;
        if (retries.size() > 0) {
            drainRetries();
            flush = true;
        }
        if (hasPending()) {
            drainPending();
            flush = true;
        }
        if (flush) {
            // also when the head I/O still waits: it may have started some of its commands
            vq.reqFlush();
        }
        if (removalEpochSeen != ctrl.removalEpoch()) {
            removalEpochSeen = ctrl.removalEpoch();
            checkRemovals();
        }
        if (resetsPending > 0) {
            ctrl.control().tryPoll();
            for (int i = 0; i < channels.size(); i++) {
                VirtioScsiChannel ch = channels.get(i);
                if (ch.resetsPending > 0) {
                    ch.processResets();
                }
            }
        }
        return completed() - before;
    }

    /**
     * The link to the target is down: takes what the dead target completed, then hands the ring
     * over as blk's channel does. Commands held for a retry and I/Os waiting for room stay where
     * they are while the link may come back, and go out once it is.
     *
     * @return whether the link is back and this ring runs on the new target (go on as usual)
     */
    private boolean linkBack() {
        takeAllUsed();
        if (scanQueue) {
            // Only scans use it and they fail at once while the link is down; the controller hands it
            // over with the control and event queues, under the scan lock.
            return false;
        }
        int step = ctrl.linkDownStep(vq);
        if (step == VirtioDevice.LINK_FAIL) {
            if (outstanding() > 0 || hasPending() || retries.size() > 0) {
                String why = ctrl.linkDownMessage();
                failEverything(new BdevIoException(Reason.TRANSPORT_LOST, why != null ? why : "controller " + ctrl.name()
                        + ": the link to the target was lost"));
            }
            return false;
        }
        return step == VirtioDevice.LINK_RESUMED;
    }

    /** Takes every used element (the completions a target made before it went are real). Owner only. */
    void takeAllUsed() {
        while (vq.poll(POLL_BATCH, completion) > 0) {
            Thread.onSpinWait();
        }
    }

    /** @return whether the link to the target is down (scans then fail at once instead of waiting out their timeout) */
    boolean linkDown() {
        return ctrl.transportLost() != null;
    }

    /** Tells channels of removed LUNs (and their disks) when their last I/O is done. */
    void checkRemovals() {
        for (int i = 0; i < channels.size(); i++) {
            channels.get(i).checkRemoval();
        }
    }

    @Override
    protected void afterCompletion(ScsiIo io) {
        if (io.channel.disk.removed) {
            io.channel.checkRemoval();
        }
    }

    /** Resends held commands that are due, in order, as far as the ring takes them. */
    private void drainRetries() {
        long now = 0;
        while (retries.size() > 0) {
            ScsiCmd cmd = retries.head();
            ScsiIo io = cmd.io;
            if (io != null && (io.error != null || io.channel.disk.removed)) {
                retries.pop();
                if (io.error == null) {
                    io.error = io.channel.disk.removedError(io.opName(), io.offset);
                }
                requestDone(cmd);
                continue;
            }
            if (cmd.orphan) {
                retries.pop();
                requestDone(cmd);
                continue;
            }
            if (cmd.retryAt != 0) {
                if (now == 0) {
                    now = System.nanoTime();
                }
                if (now - cmd.retryAt < 0) {
                    break;
                }
            }
            boolean started;
            try {
                planAgain(cmd);
                started = put(cmd);
            } catch (VirtioException e) {
                retries.pop();
                if (io != null && io.error == null) {
                    io.error = failure(io, e);
                }
                requestDone(cmd);
                continue;
            }
            if (!started) {
                break;
            }
            retries.pop();
        }
    }

    // ---------------------------------------------------------------- teardown

    /** Fails every command and waiting I/O: the device is gone (controller closed, link lost for good). */
    void failEverything(VirtioException error) {
        vq.failAll(error, completion);
        while (retries.size() > 0) {
            ScsiCmd cmd = retries.head();
            retries.pop();
            completion.onError(cmd, error);
        }
        failPending(error);
        for (int i = 0; i < channels.size(); i++) {
            channels.get(i).failResets(error);
        }
    }

    /** Returns the command memory; only once the device no longer touches the queue. */
    void freeMemory() {
        memory.free(cmdMemory);
    }

    @Override
    public String toString() {
        return "ScsiRequestQueue[" + vq.name() + ", " + channels.size() + " channel(s), " + outstanding() + " commands out]";
    }
}
