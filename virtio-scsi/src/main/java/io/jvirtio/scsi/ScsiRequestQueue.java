package io.jvirtio.scsi;

import io.jvirtio.spec.scsi.VirtioScsiSpec;
import io.jvirtio.spec.scsi.ScsiSpec;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.bdev.IoCallback;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.ring.SplitVirtqueue;
import io.jvirtio.core.ring.UsedSink;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static io.jvirtio.spec.scsi.ScsiSpec.BE_INT;
import static io.jvirtio.spec.scsi.ScsiSpec.BE_LONG;
import static io.jvirtio.spec.scsi.ScsiSpec.BE_SHORT;
import static io.jvirtio.spec.scsi.VirtioScsiSpec.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * One request queue of a controller as one thread uses it: shared by every LUN channel that thread
 * opened on the controller (SPDK: one request queue per thread per controller), or held by the
 * controller for its scans. Owns the ring, a pool of commands ({@link ScsiCmd}) with their headers
 * in device memory, a FIFO of caller I/Os waiting for ring space and a FIFO of commands waiting to
 * be retried. Completions of every LUN on the queue run from {@link #poll()}.
 *
 * <p>Submission and completion of successful I/O allocate nothing and make no syscall but the kick
 * the device asked for. Only the owning thread may call into it (the scan queue: whoever holds the
 * controller's scan lock).
 */
final class ScsiRequestQueue implements UsedSink {
    private static final Logger LOG = LoggerFactory.getLogger(ScsiRequestQueue.class);
    private static final int POLL_BATCH = 64;
    /** Retries of a command answered UNIT ATTENTION (each report clears one condition). */
    static final int MAX_UNIT_ATTENTION_RETRIES = 5;
    /** Retries of a command answered BUSY / TASK SET FULL / VIRTIO_SCSI_S_BUSY. */
    static final int MAX_BUSY_RETRIES = 8;
    /** Pause before the first BUSY retry; doubled each time (100 µs .. 12.8 ms). */
    static final long BUSY_BACKOFF_NANOS = 100_000;
    /** Largest data segment: a descriptor length is 32 bits. */
    static final long MAX_SEGMENT_BYTES = 1L << 30;

    final VirtioScsiController ctrl;
    final SplitVirtqueue vq;
    /** the thread using the queue (null for the scan queue); changes only under the controller's lock */
    Thread owner;
    private final MemoryDomain memory;
    private final MemorySegment cmdMemory;
    private final int reqBytes;
    private final int respBytes;
    private final int senseSize;
    /** most data descriptors in one command: seg_max, and the chain limit minus request and response */
    final int maxDataSegments;

    private final ScsiCmd[] cmds;
    private final int[] freeCmds;
    private int freeCmdTop;
    private ScsiIo[] pending = new ScsiIo[0];
    private int pendingHead;
    private int pendingCount;
    private final ScsiCmd[] retries;
    private int retryHead;
    private int retryCount;

    /** LUN channels on this queue */
    final List<VirtioScsiChannel> channels = new ArrayList<>();
    /** channels + scans using the queue */
    int refs;
    private int cmdsOutstanding;
    private int completed;
    private long nextSeq;
    private int removalEpochSeen;
    /** channels with a reset waiting */
    int resetsPending;
    private boolean deviceClosedSeen;

    ScsiRequestQueue(VirtioScsiController ctrl, SplitVirtqueue vq, Thread owner) {
        this.ctrl = ctrl;
        this.vq = vq;
        this.owner = owner;
        this.memory = ctrl.memory();
        VirtioScsiConfig cfg = ctrl.config();
        this.reqBytes = cfg.requestBytes();
        this.respBytes = cfg.responseBytes();
        this.senseSize = cfg.senseSize();
        int respOffset = align(reqBytes, 8);
        int paramOffset = align(respOffset + respBytes, 8);
        int stride = align(paramOffset + ScsiCmd.UNMAP_PARAM_BYTES, 64);
        int n = vq.size();
        this.cmdMemory = memory.allocate((long) n * stride, 64);
        this.cmds = new ScsiCmd[n];
        this.freeCmds = new int[n];
        for (int i = 0; i < n; i++) {
            cmds[i] = new ScsiCmd(i, ((long) vq.index() << 32) | i, cmdMemory.asSlice((long) i * stride, stride), reqBytes,
                    respOffset, respBytes, paramOffset);
            freeCmds[i] = n - 1 - i;
        }
        freeCmdTop = n;
        this.retries = new ScsiCmd[n];
        int chainLimit = ctrl.maxChainDescriptors(vq.size()) - 2;
        int segMax = cfg.segMax();
        this.maxDataSegments = Math.max(1, segMax > 0 ? Math.min(segMax, chainLimit) : chainLimit);
        this.removalEpochSeen = ctrl.removalEpoch();
    }

    private static int align(int v, int a) {
        return (v + a - 1) & -a;
    }

    /** A channel joins: the pending FIFO grows to hold all its I/Os. Owner thread, setup time. */
    void addChannel(VirtioScsiChannel ch, int depth) {
        channels.add(ch);
        ScsiIo[] bigger = new ScsiIo[pending.length + depth];
        for (int i = 0; i < pendingCount; i++) {
            bigger[i] = pending[(pendingHead + i) % pending.length];
        }
        pending = bigger;
        pendingHead = 0;
    }

    void removeChannel(VirtioScsiChannel ch) {
        channels.remove(ch);
    }

    /** @return commands the device holds or that wait for a retry */
    int cmdsOutstanding() {
        return cmdsOutstanding;
    }

    // ---------------------------------------------------------------- submission

    /** Starts a caller I/O: submits what fits, queues the rest (behind anything already waiting). */
    void start(ScsiIo io) {
        io.seq = nextSeq++;
        if (pendingCount > 0 || !advance(io)) {
            enqueue(io);
        }
        vq.reqFlush();
    }

    /**
     * Submits as many commands of {@code io} as the ring and the command pool take.
     *
     * @return true when nothing of {@code io} is left to submit (it may still be in flight)
     */
    private boolean advance(ScsiIo io) {
        VirtioScsiDisk disk = io.channel.disk;
        while (io.blocksLeft > 0) {
            if (io.error != null) {
                io.blocksLeft = 0; // a failed command ends the I/O: submit no more of it
                break;
            }
            if (disk.removed) {
                io.error = disk.removedError(ScsiIo.opName(io.op), io.offset);
                io.blocksLeft = 0;
                break;
            }
            if (freeCmdTop == 0) {
                return false;
            }
            ScsiCmd cmd = cmds[freeCmds[freeCmdTop - 1]];
            boolean started;
            try {
                started = prepare(io, cmd, disk);
            } catch (VirtioException e) {
                io.error = fail(io, e);
                io.blocksLeft = 0;
                break;
            }
            if (!started) {
                return false;
            }
            freeCmdTop--;
            cmdsOutstanding++;
            cmd.io = io;
            io.cmdsInFlight++;
        }
        if (io.cmdsInFlight == 0) {
            complete(io);
        }
        return true;
    }

    /** Builds the next command of {@code io} in {@code cmd} and submits it; @return false when the ring is full now */
    private boolean prepare(ScsiIo io, ScsiCmd cmd, VirtioScsiDisk disk) {
        return switch (io.op) {
            case ScsiIo.OP_READ, ScsiIo.OP_WRITE -> prepareRw(io, cmd, disk);
            case ScsiIo.OP_FLUSH -> prepareFlush(io, cmd, disk);
            case ScsiIo.OP_UNMAP -> prepareUnmap(io, cmd, disk);
            case ScsiIo.OP_WRITE_ZEROES -> prepareWriteSame(io, cmd, disk);
            default -> throw new IllegalStateException("op " + io.op);
        };
    }

    private boolean prepareRw(ScsiIo io, ScsiCmd cmd, VirtioScsiDisk disk) {
        int bs = disk.blockSize;
        long budget = Math.min(io.blocksLeft, disk.maxRwBlocks) * bs;
        long bytes = measure(io.iovs, io.iovIndex, io.iovOffset, budget);
        bytes -= bytes % bs;
        if (bytes == 0) {
            throw new BdevIoException(Reason.INVALID_ARGUMENT, "bdev " + disk.name() + ": " + ScsiIo.opName(io.op) + " at offset " + io.offset + ": "
                    + maxDataSegments + " data segments (seg_max " + ctrl.config().segMax() + ") of these iovecs do not cover one "
                    + bs + "-byte block; use fewer, larger iovecs");
        }
        long blocks = bytes / bs;
        long lba = io.lba;
        boolean write = io.op == ScsiIo.OP_WRITE;
        cmd.cdb.fill((byte) 0);
        if (lba + blocks - 1 <= 0xFFFF_FFFFL && blocks <= 0xFFFF) {
            cmd.opcode = write ? ScsiSpec.WRITE_10 : ScsiSpec.READ_10;
            cmd.cdb.set(JAVA_BYTE, 0, (byte) cmd.opcode);
            cmd.cdb.set(BE_INT, 2, (int) lba);
            cmd.cdb.set(BE_SHORT, 7, (short) blocks);
        } else {
            cmd.opcode = write ? ScsiSpec.WRITE_16 : ScsiSpec.READ_16;
            cmd.cdb.set(JAVA_BYTE, 0, (byte) cmd.opcode);
            cmd.cdb.set(BE_LONG, 2, lba);
            cmd.cdb.set(BE_INT, 10, (int) blocks);
        }
        cmd.iovs = io.iovs;
        cmd.iovIndex = io.iovIndex;
        cmd.iovOffset = io.iovOffset;
        cmd.bytes = bytes;
        cmd.segs = countSegments(io.iovs, io.iovIndex, io.iovOffset, bytes);
        cmd.dataOut = write;
        if (!setUpAndSubmit(cmd, disk, lba, blocks)) {
            return false;
        }
        // commit: move the caller's cursor past what this command carries
        long left = bytes;
        while (left > 0) {
            long take = Math.min(io.iovs[io.iovIndex].byteSize() - io.iovOffset, left);
            left -= take;
            io.iovOffset += take;
            if (io.iovOffset == io.iovs[io.iovIndex].byteSize()) {
                io.iovIndex++;
                io.iovOffset = 0;
            }
        }
        io.lba += blocks;
        io.blocksLeft -= blocks;
        return true;
    }

    private boolean prepareFlush(ScsiIo io, ScsiCmd cmd, VirtioScsiDisk disk) {
        cmd.cdb.fill((byte) 0);
        // LBA 0 and NUMBER OF LOGICAL BLOCKS 0: the whole medium
        cmd.opcode = disk.blockCount() > 0xFFFF_FFFFL ? ScsiSpec.SYNCHRONIZE_CACHE_16 : ScsiSpec.SYNCHRONIZE_CACHE_10;
        cmd.cdb.set(JAVA_BYTE, 0, (byte) cmd.opcode);
        noData(cmd);
        if (!setUpAndSubmit(cmd, disk, 0, 0)) {
            return false;
        }
        io.blocksLeft = 0;
        return true;
    }

    private boolean prepareUnmap(ScsiIo io, ScsiCmd cmd, VirtioScsiDisk disk) {
        long total = Math.min(io.blocksLeft, disk.unmapBlocksPerCmd);
        long lba = io.lba;
        int n = 0;
        long left = total;
        while (left > 0 && n < disk.unmapDescriptorsPerCmd) {
            long count = Math.min(left, 0xFFFF_FFFFL);
            long d = 8 + 16L * n;
            cmd.params.set(BE_LONG, d, lba);
            cmd.params.set(BE_INT, d + 8, (int) count);
            cmd.params.set(BE_INT, d + 12, 0);
            lba += count;
            left -= count;
            n++;
        }
        long blocks = total - left;
        int paramLen = 8 + 16 * n;
        cmd.params.set(BE_SHORT, 0, (short) (paramLen - 2));  // UNMAP DATA LENGTH
        cmd.params.set(BE_SHORT, 2, (short) (16 * n));        // UNMAP BLOCK DESCRIPTOR DATA LENGTH
        cmd.params.set(BE_INT, 4, 0);
        cmd.cdb.fill((byte) 0);
        cmd.opcode = ScsiSpec.UNMAP;
        cmd.cdb.set(JAVA_BYTE, 0, (byte) ScsiSpec.UNMAP);
        cmd.cdb.set(BE_SHORT, 7, (short) paramLen);
        cmd.iovs = cmd.paramIov;
        cmd.iovIndex = 0;
        cmd.iovOffset = 0;
        cmd.bytes = paramLen;
        cmd.segs = 1;
        cmd.dataOut = true;
        if (!setUpAndSubmit(cmd, disk, io.lba, blocks)) {
            return false;
        }
        io.lba += blocks;
        io.blocksLeft -= blocks;
        return true;
    }

    private boolean prepareWriteSame(ScsiIo io, ScsiCmd cmd, VirtioScsiDisk disk) {
        long blocks = Math.min(io.blocksLeft, disk.writeSameBlocksPerCmd);
        cmd.cdb.fill((byte) 0);
        cmd.opcode = ScsiSpec.WRITE_SAME_16;
        cmd.cdb.set(JAVA_BYTE, 0, (byte) ScsiSpec.WRITE_SAME_16);
        // UNMAP bit when unmapped blocks read back as zeros: the device may deallocate instead of writing
        cmd.cdb.set(JAVA_BYTE, 1, (byte) (disk.writeSameUnmap ? 0x08 : 0));
        cmd.cdb.set(BE_LONG, 2, io.lba);
        cmd.cdb.set(BE_INT, 10, (int) blocks);
        cmd.iovs = disk.zeroBlock;
        cmd.iovIndex = 0;
        cmd.iovOffset = 0;
        cmd.bytes = disk.blockSize;
        cmd.segs = 1;
        cmd.dataOut = true;
        if (!setUpAndSubmit(cmd, disk, io.lba, blocks)) {
            return false;
        }
        io.lba += blocks;
        io.blocksLeft -= blocks;
        return true;
    }

    private static void noData(ScsiCmd cmd) {
        cmd.iovs = null;
        cmd.bytes = 0;
        cmd.segs = 0;
        cmd.dataOut = false;
    }

    private boolean setUpAndSubmit(ScsiCmd cmd, VirtioScsiDisk disk, long lba, long blocks) {
        cmd.target = disk.target;
        cmd.lunAddress = disk.lunAddress;
        cmd.lba = lba;
        cmd.blocks = blocks;
        cmd.unitAttentionRetries = 0;
        cmd.busyRetries = 0;
        writeHeader(cmd);
        return submit(cmd);
    }

    private void writeHeader(ScsiCmd cmd) {
        ControlQueue.writeLun(cmd.req, REQ_LUN, cmd.target, cmd.lunAddress);
        cmd.req.set(LE_LONG, REQ_ID, cmd.id);
        cmd.req.set(JAVA_BYTE, REQ_TASK_ATTR, (byte) TASK_ATTR_SIMPLE);
        cmd.req.set(JAVA_BYTE, REQ_PRIO, (byte) 0);
        cmd.req.set(JAVA_BYTE, REQ_CRN, (byte) 0);
    }

    /**
     * Puts {@code cmd} on the ring as it stands (request header and CDB already written): request,
     * data-out, response, data-in, as virtio-scsi orders them. @return false when the ring is full now
     */
    private boolean submit(ScsiCmd cmd) {
        if (!vq.reqStart(cmd, 2 + cmd.segs)) {
            return false;
        }
        cmd.resp.set(LE_INT, RESP_SENSE_LEN, 0);
        cmd.resp.set(LE_INT, RESP_RESIDUAL, 0);
        cmd.resp.set(JAVA_BYTE, RESP_STATUS, (byte) 0);
        cmd.resp.set(JAVA_BYTE, RESP_RESPONSE, ScsiCmd.RESPONSE_UNSET);
        vq.reqAddIov(cmd.req.address(), reqBytes, false);
        if (cmd.bytes > 0 && cmd.dataOut) {
            addData(cmd, false);
        }
        vq.reqAddIov(cmd.resp.address(), respBytes, true);
        if (cmd.bytes > 0 && !cmd.dataOut) {
            addData(cmd, true);
        }
        return true;
    }

    private void addData(ScsiCmd cmd, boolean deviceWrites) {
        long left = cmd.bytes;
        int i = cmd.iovIndex;
        long off = cmd.iovOffset;
        while (left > 0) {
            MemorySegment iov = cmd.iovs[i];
            long take = Math.min(Math.min(iov.byteSize() - off, MAX_SEGMENT_BYTES), left);
            vq.reqAddIov(iov.address() + off, (int) take, deviceWrites);
            left -= take;
            off += take;
            if (off == iov.byteSize()) {
                i++;
                off = 0;
            }
        }
    }

    /** @return the bytes the next command can carry from the cursor within the segment limit, at most {@code budget} */
    private long measure(MemorySegment[] iovs, int i, long off, long budget) {
        int segs = 0;
        long bytes = 0;
        while (segs < maxDataSegments && bytes < budget) {
            long take = Math.min(Math.min(iovs[i].byteSize() - off, MAX_SEGMENT_BYTES), budget - bytes);
            segs++;
            bytes += take;
            off += take;
            if (off == iovs[i].byteSize()) {
                i++;
                off = 0;
            }
        }
        return bytes;
    }

    /** @return how many descriptors the next {@code bytes} from the cursor take */
    private static int countSegments(MemorySegment[] iovs, int i, long off, long bytes) {
        int segs = 0;
        while (bytes > 0) {
            long take = Math.min(Math.min(iovs[i].byteSize() - off, MAX_SEGMENT_BYTES), bytes);
            segs++;
            bytes -= take;
            off += take;
            if (off == iovs[i].byteSize()) {
                i++;
                off = 0;
            }
        }
        return segs;
    }

    // ---------------------------------------------------------------- internal (scan) commands

    /** @return a free command for a scan, or null when every command is in use (poll, then ask again) */
    ScsiCmd takeInternal() {
        if (freeCmdTop == 0) {
            return null;
        }
        ScsiCmd cmd = cmds[freeCmds[--freeCmdTop]];
        cmdsOutstanding++;
        cmd.reset();
        cmd.internal = new ScsiCmd.InternalResult();
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
            cmd.iovs = cmd.single;
            cmd.iovIndex = 0;
            cmd.iovOffset = 0;
            cmd.bytes = payload.byteSize();
            cmd.segs = 1;
            cmd.dataOut = false;
        } else {
            noData(cmd);
        }
        writeHeader(cmd);
        if (!submit(cmd)) {
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
        freeCmd(cmd);
    }

    // ---------------------------------------------------------------- completion

    /**
     * Takes completions from the device and runs their callbacks (every LUN of this queue), resubmits
     * retries that are due and resumes waiting I/Os.
     *
     * @return the number of caller I/Os completed
     */
    int poll() {
        int before = completed;
        if (ctrl.isDeviceClosed()) {
            if (!deviceClosedSeen) {
                deviceClosedSeen = true;
                failEverything(new BdevIoException(Reason.CLOSED, "controller " + ctrl.name() + " was closed with I/O in flight"));
            }
            return completed - before;
        }
        vq.poll(POLL_BATCH, this);
        boolean flush = false;
        if (retryCount > 0) {
            drainRetries();
            flush = true;
        }
        if (pendingCount > 0) {
            drainPending();
            flush = true;
        }
        if (flush) {
            // also when the head I/O still waits: advance() may have started some of its commands
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
        return completed - before;
    }

    /** Tells channels of removed LUNs (and their disks) when their last I/O is done. */
    void checkRemovals() {
        for (int i = 0; i < channels.size(); i++) {
            channels.get(i).checkRemoval();
        }
    }

    private void drainPending() {
        while (pendingCount > 0) {
            // dequeue before advancing: completing the I/O may run a callback that reuses it
            ScsiIo io = dequeue();
            if (!advance(io)) {
                pushFront(io);
                break;
            }
        }
    }

    private void drainRetries() {
        long now = 0;
        while (retryCount > 0) {
            ScsiCmd cmd = retries[retryHead];
            ScsiIo io = cmd.io;
            if (io != null && (io.error != null || io.channel.disk.removed)) {
                popRetry();
                if (io.error == null) {
                    io.error = io.channel.disk.removedError(ScsiIo.opName(io.op), io.offset);
                }
                cmdDone(cmd, io);
                continue;
            }
            if (cmd.orphan) {
                popRetry();
                freeCmd(cmd);
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
                started = submit(cmd);
            } catch (VirtioException e) {
                popRetry();
                if (io != null && io.error == null) {
                    io.error = fail(io, e);
                }
                cmdDone(cmd, io);
                continue;
            }
            if (!started) {
                break;
            }
            popRetry();
        }
    }

    private void retry(ScsiCmd cmd, long delayNanos) {
        cmd.retryAt = delayNanos == 0 ? 0 : System.nanoTime() + delayNanos;
        retries[(retryHead + retryCount) % retries.length] = cmd;
        retryCount++;
    }

    private void popRetry() {
        retries[retryHead] = null;
        retryHead = (retryHead + 1) % retries.length;
        retryCount--;
    }

    @Override
    public void onUsed(Object cookie, int len) {
        ScsiCmd cmd = (ScsiCmd) cookie;
        if (cmd.internal != null) {
            internalDone(cmd, len);
            return;
        }
        if (cmd.orphan) {
            freeCmd(cmd);
            return;
        }
        ScsiIo io = cmd.io;
        VirtioScsiDisk disk = io.channel.disk;
        int response = Byte.toUnsignedInt(cmd.resp.get(JAVA_BYTE, RESP_RESPONSE));
        if (response == VIRTIO_SCSI_S_OK) {
            int status = Byte.toUnsignedInt(cmd.resp.get(JAVA_BYTE, RESP_STATUS));
            if (status == ScsiSpec.STATUS_GOOD) {
                // a short read leaves garbage in the caller's buffer (writes: targets differ in what they report)
                if (!cmd.dataOut && cmd.bytes > 0 && io.error == null) {
                    int residual = cmd.resp.get(LE_INT, RESP_RESIDUAL);
                    if (residual != 0) {
                        io.error = shortTransfer(cmd, io, residual, len);
                    }
                }
            } else if (!io.channel.closing && !disk.removed && io.error == null && retryable(cmd, status)) {
                return;
            } else if (io.error == null && !syncCacheUnsupported(cmd, disk, status)) {
                io.error = statusError(cmd, io, status);
            }
        } else if (response == VIRTIO_SCSI_S_BUSY && !io.channel.closing && !disk.removed && io.error == null
                && cmd.busyRetries < MAX_BUSY_RETRIES) {
            retry(cmd, BUSY_BACKOFF_NANOS << cmd.busyRetries++);
            return;
        } else if (io.error == null) {
            if (response == VIRTIO_SCSI_S_BAD_TARGET || response == VIRTIO_SCSI_S_INCORRECT_LUN) {
                ctrl.requestRescan(cmd.target);
            }
            io.error = responseError(cmd, io, response, len);
        }
        if (disk.removed && io.error == null) {
            io.error = disk.removedError(ScsiIo.opName(io.op), io.offset);
        }
        cmdDone(cmd, io);
    }

    /** @return true when the command was put back for a retry (UNIT ATTENTION, BUSY, TASK SET FULL) */
    private boolean retryable(ScsiCmd cmd, int status) {
        if (status == ScsiSpec.STATUS_CHECK_CONDITION) {
            ScsiSense sense = sense(cmd);
            if (sense != null && sense.isUnitAttention() && cmd.unitAttentionRetries < MAX_UNIT_ATTENTION_RETRIES) {
                cmd.unitAttentionRetries++;
                ctrl.unitAttention(cmd.target, cmd.lunAddress, sense);
                retry(cmd, 0);
                return true;
            }
            return false;
        }
        if (ScsiSpec.isBusyStatus(status) && cmd.busyRetries < MAX_BUSY_RETRIES) {
            retry(cmd, BUSY_BACKOFF_NANOS << cmd.busyRetries++);
            return true;
        }
        return false;
    }

    /**
     * A LUN without SYNCHRONIZE CACHE (ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE) has no volatile
     * cache to flush: the flush succeeds.
     */
    private boolean syncCacheUnsupported(ScsiCmd cmd, VirtioScsiDisk disk, int status) {
        if ((cmd.opcode != ScsiSpec.SYNCHRONIZE_CACHE_10 && cmd.opcode != ScsiSpec.SYNCHRONIZE_CACHE_16) || status != ScsiSpec.STATUS_CHECK_CONDITION) {
            return false;
        }
        ScsiSense sense = sense(cmd);
        if (sense == null || !sense.is(ScsiSpec.KEY_ILLEGAL_REQUEST, 0x20, 0x00)) {
            return false;
        }
        if (!disk.syncCacheUnsupportedLogged) {
            disk.syncCacheUnsupportedLogged = true;
            LOG.info("bdev {}: the LUN does not implement {} (no volatile cache): flushes complete at once", disk.name(),
                    ScsiSpec.opcodeName(cmd.opcode));
        }
        return true;
    }

    private ScsiSense sense(ScsiCmd cmd) {
        int senseLen = cmd.resp.get(LE_INT, RESP_SENSE_LEN);
        int n = (int) Math.min(Integer.toUnsignedLong(senseLen), senseSize);
        return ScsiSense.decode(cmd.resp, RESP_SENSE, n);
    }

    @Override
    public void onError(Object cookie, VirtioException error) {
        ScsiCmd cmd = (ScsiCmd) cookie;
        if (cmd.internal != null) {
            cmd.internal.error = error;
            cmd.internal.done = true;
            if (cmd.internal.abandoned) {
                freeAbandoned(cmd);
            }
            return;
        }
        if (cmd.orphan) {
            freeCmd(cmd);
            return;
        }
        ScsiIo io = cmd.io;
        if (io.error == null) {
            io.error = fail(io, error);
        }
        cmdDone(cmd, io);
    }

    private void internalDone(ScsiCmd cmd, int len) {
        ScsiCmd.InternalResult r = cmd.internal;
        r.usedLen = len;
        r.response = Byte.toUnsignedInt(cmd.resp.get(JAVA_BYTE, RESP_RESPONSE));
        if (r.response == Byte.toUnsignedInt(ScsiCmd.RESPONSE_UNSET)) {
            r.response = -1;
        }
        r.status = Byte.toUnsignedInt(cmd.resp.get(JAVA_BYTE, RESP_STATUS));
        // resid is the device's u32: never more than what was asked, never negative
        r.residual = (int) Math.min(Integer.toUnsignedLong(cmd.resp.get(LE_INT, RESP_RESIDUAL)), Math.max(cmd.bytes, 0));
        if (r.response == VIRTIO_SCSI_S_OK && r.status == ScsiSpec.STATUS_CHECK_CONDITION) {
            r.sense = sense(cmd);
        }
        r.done = true;
        if (r.abandoned) {
            freeAbandoned(cmd);
        }
    }

    /** A scan command its caller gave up on completed at last: its command and buffer can go. */
    private void freeAbandoned(ScsiCmd cmd) {
        MemorySegment payload = cmd.internal.abandonedPayload;
        freeCmd(cmd);
        if (payload != null) {
            memory.free(payload);
        }
    }

    private void cmdDone(ScsiCmd cmd, ScsiIo io) {
        freeCmd(cmd);
        io.cmdsInFlight--;
        if (io.cmdsInFlight == 0 && !io.queued && (io.blocksLeft == 0 || io.error != null)) {
            if (io.error != null) {
                io.blocksLeft = 0;
            }
            complete(io);
        }
    }

    private void freeCmd(ScsiCmd cmd) {
        cmd.reset();
        freeCmds[freeCmdTop++] = cmd.slot;
        cmdsOutstanding--;
    }

    void complete(ScsiIo io) {
        IoCallback cb = io.callback;
        Object ctx = io.context;
        VirtioException err = io.error;
        VirtioScsiChannel ch = io.channel;
        io.clear();
        ch.ioDone(io);
        completed++;
        if (cb != null) {
            try {
                cb.onComplete(ctx, err);
            } catch (RuntimeException e) {
                LOG.error("bdev {}: I/O completion callback threw", ch.disk.name(), e);
            }
        }
        if (ch.disk.removed) {
            ch.checkRemoval();
        }
    }

    /** Completes a reset (or an I/O that never reached the device) from the channel. */
    void completeFromChannel(ScsiIo io) {
        complete(io);
    }

    // ---------------------------------------------------------------- errors

    private BdevIoException fail(ScsiIo io, VirtioException cause) {
        return new BdevIoException(BdevIoException.reasonOf(cause, Reason.QUEUE_BROKEN), "bdev " + io.channel.disk.name() + ": " + ScsiIo.opName(io.op) + " at offset " + io.offset
                + " failed: " + cause.getMessage(), cause);
    }

    private String describe(ScsiCmd cmd, ScsiIo io) {
        String range = switch (cmd.opcode) {
            case ScsiSpec.SYNCHRONIZE_CACHE_10, ScsiSpec.SYNCHRONIZE_CACHE_16 -> "";
            default -> " of " + cmd.blocks + " block(s) at LBA " + cmd.lba;
        };
        return "bdev " + io.channel.disk.name() + ": " + ScsiSpec.opcodeName(cmd.opcode) + range + " (" + ScsiIo.opName(io.op)
                + " at offset " + io.offset + ")";
    }

    private ScsiIoException responseError(ScsiCmd cmd, ScsiIo io, int response, int len) {
        String what = response == Byte.toUnsignedInt(ScsiCmd.RESPONSE_UNSET)
                ? "completed without a response (the device did not write virtio_scsi_resp_cmd.response; used len " + len + ")"
                : "failed: " + VirtioScsiSpec.responseName(response) + " (" + VirtioScsiSpec.responseMeaning(response) + ")";
        return new ScsiIoException(describe(cmd, io) + " " + what, response, -1, null);
    }

    private ScsiIoException statusError(ScsiCmd cmd, ScsiIo io, int status) {
        ScsiSense sense = status == ScsiSpec.STATUS_CHECK_CONDITION ? sense(cmd) : null;
        StringBuilder sb = new StringBuilder(describe(cmd, io)).append(" failed: SCSI status ").append(ScsiSpec.statusName(status));
        if (sense != null) {
            sb.append(", sense ").append(sense.describe());
        } else if (status == ScsiSpec.STATUS_CHECK_CONDITION) {
            sb.append(" without valid sense data");
        }
        if (cmd.unitAttentionRetries > 0 || cmd.busyRetries > 0) {
            sb.append(" (after ").append(cmd.unitAttentionRetries + cmd.busyRetries).append(" retries)");
        }
        return new ScsiIoException(sb.toString(), VIRTIO_SCSI_S_OK, status, sense);
    }

    private ScsiIoException shortTransfer(ScsiCmd cmd, ScsiIo io, int residual, int len) {
        return new ScsiIoException(describe(cmd, io) + " transferred " + Integer.toUnsignedString(residual)
                + " bytes less than asked (residual " + Integer.toUnsignedString(residual) + " of " + cmd.bytes
                + ", used len " + len + ")", VIRTIO_SCSI_S_OK, ScsiSpec.STATUS_GOOD, null);
    }

    // ---------------------------------------------------------------- bookkeeping

    private ScsiIo dequeue() {
        ScsiIo io = pending[pendingHead];
        pending[pendingHead] = null;
        pendingHead = (pendingHead + 1) % pending.length;
        pendingCount--;
        io.queued = false;
        return io;
    }

    private void pushFront(ScsiIo io) {
        pendingHead = (pendingHead - 1 + pending.length) % pending.length;
        pending[pendingHead] = io;
        pendingCount++;
        io.queued = true;
    }

    private void enqueue(ScsiIo io) {
        io.queued = true;
        pending[(pendingHead + pendingCount) % pending.length] = io;
        pendingCount++;
    }

    /** Fails every command and waiting I/O: the device is gone (controller closed). */
    void failEverything(VirtioException error) {
        vq.failAll(error, this);
        while (retryCount > 0) {
            ScsiCmd cmd = retries[retryHead];
            popRetry();
            onError(cmd, error);
        }
        while (pendingCount > 0) {
            ScsiIo io = dequeue();
            io.blocksLeft = 0;
            if (io.error == null) {
                io.error = fail(io, error);
            }
            if (io.cmdsInFlight == 0) {
                complete(io);
            }
        }
        for (int i = 0; i < channels.size(); i++) {
            channels.get(i).failResets(error);
        }
    }

    /**
     * Fails a closing channel's I/O from its own records, leaving the ring as it is: commands the
     * device still holds become orphans, freed when it completes them.
     */
    void abandon(VirtioScsiChannel ch, VirtioException error) {
        for (ScsiCmd cmd : cmds) {
            ScsiIo io = cmd.io;
            if (io == null || io.channel != ch || cmd.orphan) {
                continue;
            }
            cmd.orphan = true;
            cmd.io = null;
            io.cmdsInFlight--;
            if (io.error == null) {
                io.error = fail(io, error);
            }
            io.blocksLeft = 0;
            if (io.cmdsInFlight == 0 && !io.queued) {
                complete(io);
            }
        }
        int n = pendingCount;
        for (int k = 0; k < n; k++) {
            ScsiIo io = dequeue();
            if (io.channel != ch) {
                enqueue(io);
                continue;
            }
            io.blocksLeft = 0;
            if (io.error == null) {
                io.error = fail(io, error);
            }
            if (io.cmdsInFlight == 0) {
                complete(io);
            }
        }
    }

    /** Returns the command memory; only once the device no longer touches the queue. */
    void freeMemory() {
        memory.free(cmdMemory);
    }

    @Override
    public String toString() {
        return "ScsiRequestQueue[" + vq.name() + ", " + channels.size() + " channel(s), " + cmdsOutstanding + " commands out]";
    }
}
