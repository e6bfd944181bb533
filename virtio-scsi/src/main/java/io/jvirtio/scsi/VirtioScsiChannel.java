package io.jvirtio.scsi;

import io.jvirtio.spec.scsi.VirtioScsiSpec;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.bdev.IoCallback;
import io.jvirtio.bdev.IoChannel;
import io.jvirtio.spec.VirtioException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;

import static io.jvirtio.spec.scsi.VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_COMPLETE;
import static io.jvirtio.spec.scsi.VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_SUCCEEDED;
import static io.jvirtio.spec.scsi.VirtioScsiSpec.VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET;

/**
 * A thread's channel to one LUN ({@link VirtioScsiDisk}). Every channel a thread opens on LUNs of the
 * same controller shares that thread's request queue ({@link ScsiRequestQueue}): SPDK's one request
 * queue per thread per controller. The channel owns a pool of I/O contexts ({@link ScsiIo}); the
 * queue owns the commands, the ring and the FIFO of I/Os waiting for room.
 *
 * <p>{@link #poll()} takes the completions of the whole queue: the callbacks of every LUN channel of
 * this thread on this controller run from it, and it returns how many of them completed. Polling one
 * channel per controller and thread is enough.
 */
public final class VirtioScsiChannel implements IoChannel {
    private static final Logger LOG = LoggerFactory.getLogger(VirtioScsiChannel.class);
    private static final long CLOSE_DRAIN_NANOS = 5_000_000_000L;

    final VirtioScsiDisk disk;
    final ScsiRequestQueue queue;
    private final Thread owner;
    private final ScsiIo[] ios;
    private final int[] freeIos;
    private int freeIoTop;
    private int inFlight;
    /** resets waiting for their TMF or for older I/O */
    int resetsPending;
    boolean closing;
    private boolean closed;
    private boolean removalAcked;

    VirtioScsiChannel(VirtioScsiDisk disk, ScsiRequestQueue queue, int depth) {
        this.disk = disk;
        this.queue = queue;
        this.owner = Thread.currentThread();
        this.ios = new ScsiIo[depth];
        this.freeIos = new int[depth];
        for (int i = 0; i < depth; i++) {
            ios[i] = new ScsiIo(i, this);
            freeIos[i] = depth - 1 - i;
        }
        freeIoTop = depth;
    }

    @Override
    public Bdev bdev() {
        return disk;
    }

    /** @return the LUN */
    public VirtioScsiDisk disk() {
        return disk;
    }

    /** @return the index of the request queue this channel's thread uses on the controller */
    public int queueIndex() {
        return queue.vq.index();
    }

    // ---------------------------------------------------------------- submission

    @Override
    public boolean read(MemorySegment buffer, long offset, IoCallback callback, Object context) {
        return rw(ScsiIo.OP_READ, null, buffer, 1, offset, callback, context);
    }

    @Override
    public boolean write(MemorySegment buffer, long offset, IoCallback callback, Object context) {
        return rw(ScsiIo.OP_WRITE, null, buffer, 1, offset, callback, context);
    }

    @Override
    public boolean readv(MemorySegment[] iovs, int iovcnt, long offset, IoCallback callback, Object context) {
        return rw(ScsiIo.OP_READ, iovs, null, iovcnt, offset, callback, context);
    }

    @Override
    public boolean writev(MemorySegment[] iovs, int iovcnt, long offset, IoCallback callback, Object context) {
        return rw(ScsiIo.OP_WRITE, iovs, null, iovcnt, offset, callback, context);
    }

    private boolean rw(int op, MemorySegment[] iovs, MemorySegment single, int iovcnt, long offset, IoCallback callback,
                       Object context) {
        checkUsable(op);
        if (op == ScsiIo.OP_WRITE && disk.readOnly()) {
            throw new BdevIoException(Reason.READ_ONLY, "bdev " + disk.name() + " is write-protected (MODE SENSE WP): write at offset " + offset + " refused");
        }
        long length = single != null ? checkIov(single, op, 0) : checkIovs(iovs, iovcnt, op);
        checkRange(op, offset, length);
        ScsiIo io = takeIo();
        if (io == null) {
            return false;
        }
        if (single != null) {
            io.single[0] = single;
            iovs = io.single;
        }
        io.op = op;
        io.iovs = iovs;
        io.iovcnt = iovcnt;
        start(io, offset, length / disk.blockSize, callback, context);
        return true;
    }

    @Override
    public boolean flush(IoCallback callback, Object context) {
        checkUsable(ScsiIo.OP_FLUSH);
        ScsiIo io = takeIo();
        if (io == null) {
            return false;
        }
        io.op = ScsiIo.OP_FLUSH;
        start(io, 0, 1, callback, context);
        return true;
    }

    @Override
    public boolean unmap(long offset, long length, IoCallback callback, Object context) {
        return blocksOnly(ScsiIo.OP_UNMAP, disk.unmapSupported, "UNMAP is not supported (VPD 0xB2 LBPU not set, or block limits allow none)",
                offset, length, callback, context);
    }

    @Override
    public boolean writeZeroes(long offset, long length, IoCallback callback, Object context) {
        return blocksOnly(ScsiIo.OP_WRITE_ZEROES, disk.writeSameSupported,
                "write-zeroes is not supported (VPD 0xB2 LBPWS not set: WRITE SAME (16) is not offered)", offset, length,
                callback, context);
    }

    private boolean blocksOnly(int op, boolean supported, String why, long offset, long length, IoCallback callback, Object context) {
        checkUsable(op);
        if (!supported) {
            throw new BdevIoException(Reason.UNSUPPORTED, "bdev " + disk.name() + ": " + why);
        }
        if (disk.readOnly()) {
            throw new BdevIoException(Reason.READ_ONLY, "bdev " + disk.name() + " is write-protected: " + ScsiIo.opName(op) + " at offset " + offset + " refused");
        }
        checkRange(op, offset, length);
        ScsiIo io = takeIo();
        if (io == null) {
            return false;
        }
        io.op = op;
        io.iovcnt = 0;
        start(io, offset, length / disk.blockSize, callback, context);
        return true;
    }

    private void start(ScsiIo io, long offset, long blocks, IoCallback callback, Object context) {
        io.offset = offset;
        io.lba = offset / disk.blockSize;
        io.blocksLeft = blocks;
        io.callback = callback;
        io.context = context;
        queue.start(io);
    }

    /**
     * Resets the LUN with a LOGICAL UNIT RESET task management function on the control queue. The
     * callback runs on this thread, from {@link #poll()}, once the device answered the TMF and every
     * I/O this channel submitted before the reset has completed (the device ends them, typically with
     * VIRTIO_SCSI_S_RESET). A TMF the device rejects fails the reset with its response.
     */
    @Override
    public boolean reset(IoCallback callback, Object context) {
        checkUsable(ScsiIo.OP_RESET);
        ScsiIo io = takeIo();
        if (io == null) {
            return false;
        }
        ControlQueue.Tmf tmf;
        try {
            tmf = disk.controller.control().submit(VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, disk.target, disk.lunAddress, 0);
        } catch (VirtioException e) {
            giveBack(io);
            throw new BdevIoException(BdevIoException.reasonOf(e, Reason.QUEUE_BROKEN), "bdev " + disk.name() + ": reset refused: the control queue failed: " + e.getMessage(), e);
        }
        if (tmf == null) {
            giveBack(io);
            return false; // every TMF context in use: poll and try again
        }
        io.op = ScsiIo.OP_RESET;
        io.offset = 0;
        io.blocksLeft = 0;
        io.callback = callback;
        io.context = context;
        io.tmf = tmf;
        io.seq = Long.MAX_VALUE; // not on the queue: the seq below is what it waits for
        io.lba = queueSeqMark();
        resetsPending++;
        queue.resetsPending++;
        return true;
    }

    /** @return a sequence mark: I/O started before now has a smaller seq */
    private long queueSeqMark() {
        long max = -1;
        for (ScsiIo io : ios) {
            if (io.active && io.op != ScsiIo.OP_RESET && io.seq > max) {
                max = io.seq;
            }
        }
        return max;
    }

    /** Completes resets whose TMF is done and whose earlier I/O has drained. Called by the queue's poll. */
    void processResets() {
        for (ScsiIo r : ios) {
            if (!r.active || r.op != ScsiIo.OP_RESET || r.tmf == null || !r.tmf.done) {
                continue;
            }
            if (olderIoInFlight(r.lba)) {
                continue;
            }
            ControlQueue.Tmf tmf = r.tmf;
            if (tmf.error != null) {
                r.error = new BdevIoException(BdevIoException.reasonOf(tmf.error, Reason.QUEUE_BROKEN), "bdev " + disk.name() + ": reset (LOGICAL UNIT RESET) failed: " + tmf.error.getMessage(), tmf.error);
            } else if (tmf.response != VIRTIO_SCSI_S_FUNCTION_COMPLETE && tmf.response != VIRTIO_SCSI_S_FUNCTION_SUCCEEDED) {
                r.error = new ScsiIoException("bdev " + disk.name() + ": reset (LOGICAL UNIT RESET) failed: "
                        + (tmf.response < 0 ? "the device did not write the TMF response"
                        : VirtioScsiSpec.responseName(tmf.response) + " (" + VirtioScsiSpec.responseMeaning(tmf.response) + ")"),
                        tmf.response, -1, null);
            }
            disk.controller.control().release(tmf);
            r.tmf = null;
            resetsPending--;
            queue.resetsPending--;
            queue.completeFromChannel(r);
        }
    }

    private boolean olderIoInFlight(long mark) {
        for (ScsiIo io : ios) {
            if (io.active && io.op != ScsiIo.OP_RESET && io.seq <= mark) {
                return true;
            }
        }
        return false;
    }

    /** The controller is gone: resets fail (their TMFs will never complete). */
    void failResets(VirtioException error) {
        for (ScsiIo r : ios) {
            if (r.active && r.op == ScsiIo.OP_RESET) {
                r.error = new BdevIoException(BdevIoException.reasonOf(error, Reason.CLOSED), "bdev " + disk.name() + ": reset failed: " + error.getMessage(), error);
                r.tmf = null; // its context stays taken: the device may never answer
                resetsPending--;
                queue.resetsPending--;
                queue.completeFromChannel(r);
            }
        }
    }

    // ---------------------------------------------------------------- completion

    /**
     * Takes completions of this thread's request queue on the controller, for every LUN channel of
     * this thread (their callbacks run here too).
     *
     * @return the number of I/Os completed, of any LUN sharing the queue
     */
    @Override
    public int poll() {
        if (closed) {
            return 0;
        }
        return queue.poll();
    }

    @Override
    public int inFlight() {
        return inFlight;
    }

    void ioDone(ScsiIo io) {
        freeIos[freeIoTop++] = io.slot;
        inFlight--;
    }

    /** A removed LUN's channel tells the disk when its last I/O is done. */
    void checkRemoval() {
        if (!removalAcked && disk.removed && inFlight == 0) {
            removalAcked = true;
            disk.channelDrained(this);
        }
    }

    // ---------------------------------------------------------------- bookkeeping

    private ScsiIo takeIo() {
        if (freeIoTop == 0) {
            return null;
        }
        inFlight++;
        ScsiIo io = ios[freeIos[--freeIoTop]];
        io.active = true;
        return io;
    }

    private void giveBack(ScsiIo io) {
        io.clear();
        ioDone(io);
    }

    private void checkUsable(int op) {
        if (closed) {
            throw new BdevIoException(Reason.CLOSED, "bdev " + disk.name() + ": " + ScsiIo.opName(op) + " on a closed channel");
        }
        if (disk.removed) {
            throw disk.removedError(ScsiIo.opName(op), -1);
        }
        if (queue.vq.isBroken()) {
            throw new BdevIoException(Reason.QUEUE_BROKEN, "bdev " + disk.name() + ": " + ScsiIo.opName(op) + " refused, queue " + queue.vq.name()
                    + " is broken: " + queue.vq.brokenReason());
        }
        if (disk.controller.isDeviceClosed()) {
            throw new BdevIoException(Reason.CLOSED, "bdev " + disk.name() + ": " + ScsiIo.opName(op) + " refused, controller "
                    + disk.controller.name() + " is closed");
        }
    }

    private long checkIovs(MemorySegment[] iovs, int iovcnt, int op) {
        if (iovs == null || iovcnt < 1 || iovcnt > iovs.length) {
            throw new BdevIoException(Reason.INVALID_ARGUMENT, "bdev " + disk.name() + ": " + ScsiIo.opName(op) + " with iovcnt " + iovcnt
                    + " of an array of " + (iovs == null ? 0 : iovs.length));
        }
        long total = 0;
        for (int i = 0; i < iovcnt; i++) {
            total += checkIov(iovs[i], op, i);
        }
        return total;
    }

    private long checkIov(MemorySegment iov, int op, int index) {
        long n = iov.byteSize();
        if (n == 0) {
            throw new BdevIoException(Reason.INVALID_ARGUMENT, "bdev " + disk.name() + ": " + ScsiIo.opName(op) + " iov[" + index + "] is empty");
        }
        if (!disk.controller.memory().contains(iov)) {
            throw new BdevIoException(Reason.INVALID_ARGUMENT, "bdev " + disk.name() + ": " + ScsiIo.opName(op) + " iov[" + index + "] at 0x"
                    + Long.toHexString(iov.address()) + " (" + n + " bytes) is not in the controller's memory domain; "
                    + "allocate I/O buffers with Bdev.allocateBuffer");
        }
        return n;
    }

    private void checkRange(int op, long offset, long length) {
        int bs = disk.blockSize;
        if (offset < 0 || length <= 0 || offset % bs != 0 || length % bs != 0) {
            throw new BdevIoException(Reason.INVALID_ARGUMENT, "bdev " + disk.name() + ": " + ScsiIo.opName(op) + " offset " + offset + " length " + length
                    + " must be non-negative, non-empty multiples of the block size " + bs);
        }
        long cap = disk.blockCount() * bs;
        if (offset > cap - length) {
            throw new BdevIoException(Reason.INVALID_ARGUMENT, "bdev " + disk.name() + ": " + ScsiIo.opName(op) + " of " + length + " bytes at offset " + offset
                    + " ends past the capacity of " + cap + " bytes");
        }
    }

    // ---------------------------------------------------------------- teardown

    /**
     * Waits up to 5 s for this channel's I/O (polling the queue), fails what is left (commands the
     * device still holds stay on the ring until it completes them), and leaves the thread's queue;
     * the last channel of the thread gives the queue back. Must be called by the owning thread.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        if (Thread.currentThread() != owner) {
            LOG.warn("bdev {}: channel on {} closed from thread {}", disk.name(), queue.vq.name(), Thread.currentThread().getName());
        }
        closing = true;
        long deadline = System.nanoTime() + CLOSE_DRAIN_NANOS;
        while (inFlight > 0 && !queue.vq.isBroken() && !disk.controller.isDeviceClosed() && System.nanoTime() < deadline) {
            if (queue.poll() == 0) {
                Thread.onSpinWait();
            }
        }
        if (inFlight > 0) {
            queue.poll(); // fails everything when the controller is closed
        }
        if (inFlight > 0) {
            int stuck = inFlight;
            BdevIoException e = new BdevIoException(Reason.TIMED_OUT, "bdev " + disk.name() + ": channel on " + queue.vq.name() + " closed with " + stuck
                    + " I/Os the device did not complete in " + CLOSE_DRAIN_NANOS / 1_000_000 + " ms");
            if (resetsPending > 0) {
                failResets(e);
            }
            queue.abandon(this, e);
            LOG.error("bdev {}: {} I/Os on {} not completed by the device within {} ms; failed to their callers",
                    disk.name(), stuck, queue.vq.name(), CLOSE_DRAIN_NANOS / 1_000_000);
        }
        closed = true;
        disk.controller.channelClosed(this);
    }

    @Override
    public String toString() {
        return "VirtioScsiChannel[" + disk.name() + " on " + queue.vq.name() + ", in flight " + inFlight + "]";
    }
}
