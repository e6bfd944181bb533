package io.jvirtio.scsi;

import io.jvirtio.bdev.AbstractIoChannel;
import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.CompletionMode;
import io.jvirtio.core.CompletionWaiter;
import io.jvirtio.core.ring.Virtqueue;
import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.bdev.IoCallback;
import io.jvirtio.bdev.IoType;
import io.jvirtio.bdev.driver.IoCounters;
import io.jvirtio.bdev.driver.IoSlots;
import io.jvirtio.bdev.driver.IoValidator;
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
 * queue per thread per controller. The channel checks each I/O's arguments (the LUN's
 * {@link IoValidator}) and owns a pool of I/O contexts ({@link ScsiIo}); the queue owns the
 * commands, the ring and the FIFO of I/Os waiting for room. A reset is the channel's own: a
 * LOGICAL UNIT RESET on the control queue, completed once the I/O before it has drained.
 *
 * <p>{@link #poll()} takes the completions of the whole queue: the callbacks of every LUN channel of
 * this thread on this controller run from it, and it returns how many of them completed. Polling one
 * channel per controller and thread is enough.
 */
public final class VirtioScsiChannel extends AbstractIoChannel {
    private static final Logger LOG = LoggerFactory.getLogger(VirtioScsiChannel.class);
    private static final long CLOSE_DRAIN_NANOS = 5_000_000_000L;

    final VirtioScsiDisk disk;
    final ScsiRequestQueue queue;
    private final ControllerPort ctrl;
    private final Thread owner;
    private final IoValidator check;
    private final IoSlots<ScsiIo> ios;
    /** resets waiting for their TMF or for older I/O */
    int resetsPending;
    boolean closing;
    private boolean closed;
    private boolean removalAcked;
    private final CompletionWaiter waiter;
    private CompletionMode completionMode = CompletionMode.polling();

    VirtioScsiChannel(VirtioScsiDisk disk, ScsiRequestQueue queue, int depth) {
        this.disk = disk;
        this.queue = queue;
        this.ctrl = queue.ctrl;
        this.owner = Thread.currentThread();
        this.check = disk.validator();
        this.ios = new IoSlots<>(disk.name(), depth, () -> new ScsiIo(this), disk.openCounters());
        Virtqueue vq = queue.vq;
        this.waiter = new CompletionWaiter(ctrl.transportType(), vq, () -> ctrl.completionFd(vq), this::poll);
    }

    @Override
    public Bdev bdev() {
        return disk;
    }

    /** @return this channel's I/O counters (the disk sums them) */
    IoCounters counters() {
        return ios.counters();
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
    protected boolean rw(IoType op, MemorySegment[] iovs, MemorySegment single, int iovcnt, long offset, IoCallback callback,
                       Object context) {
        String name = op.spdkName();
        checkUsable(name);
        if (op == IoType.WRITE) {
            check.checkWritable(name, offset, disk.readOnly());
        }
        long length = single != null ? check.checkIov(name, single, 0) : check.checkIovs(name, iovs, iovcnt);
        check.checkRange(name, offset, length, disk.blockCount() * disk.blockSize);
        ScsiIo io = take();
        if (io == null) {
            return false;
        }
        io.setData(iovs, single, iovcnt);
        start(io, op, offset, length / disk.blockSize, callback, context);
        return true;
    }

    @Override
    public boolean flush(IoCallback callback, Object context) {
        checkUsable(IoType.FLUSH.spdkName());
        ScsiIo io = take();
        if (io == null) {
            return false;
        }
        io.setData(null, null, 0);
        start(io, IoType.FLUSH, 0, 1, callback, context);
        return true;
    }

    @Override
    public boolean unmap(long offset, long length, IoCallback callback, Object context) {
        return blocksOnly(IoType.UNMAP, offset, length, callback, context);
    }

    @Override
    public boolean writeZeroes(long offset, long length, IoCallback callback, Object context) {
        return blocksOnly(IoType.WRITE_ZEROES, offset, length, callback, context);
    }

    private boolean blocksOnly(IoType op, long offset, long length, IoCallback callback, Object context) {
        String name = op.spdkName();
        checkUsable(name);
        check.checkSupported(op);
        check.checkWritable(name, offset, disk.readOnly());
        check.checkRange(name, offset, length, disk.blockCount() * disk.blockSize);
        ScsiIo io = take();
        if (io == null) {
            return false;
        }
        io.setData(null, null, 0);
        start(io, op, offset, length / disk.blockSize, callback, context);
        return true;
    }

    /** @param blocks blocks to carry, or 1 for the one command of a flush */
    private void start(ScsiIo io, IoType op, long offset, long blocks, IoCallback callback, Object context) {
        io.op = op;
        io.offset = offset;
        io.lba = offset / disk.blockSize;
        io.remaining = blocks;
        io.bytes = op == IoType.FLUSH ? 0 : blocks * disk.blockSize;
        io.callback = callback;
        io.context = context;
        queue.begin(io);
    }

    /**
     * Resets the LUN with a LOGICAL UNIT RESET task management function on the control queue. The
     * callback runs on this thread, from {@link #poll()}, once the device answered the TMF and every
     * I/O this channel submitted before the reset has completed (the device ends them, typically with
     * VIRTIO_SCSI_S_RESET). A TMF the device rejects fails the reset with its response.
     */
    @Override
    public boolean reset(IoCallback callback, Object context) {
        checkUsable(IoType.RESET.spdkName());
        ScsiIo io = take();
        if (io == null) {
            return false;
        }
        ControlQueue.Tmf tmf;
        try {
            tmf = ctrl.control().submit(VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, disk.target, disk.lunAddress, 0);
        } catch (VirtioException e) {
            giveBack(io);
            throw new BdevIoException(BdevIoException.reasonOf(e, Reason.QUEUE_BROKEN), "bdev " + disk.name() + ": reset refused: the control queue failed: " + e.getMessage(), e);
        }
        if (tmf == null) {
            giveBack(io);
            return false; // every TMF context in use, or the link is down: poll and try again
        }
        io.op = IoType.RESET;
        io.offset = 0;
        io.remaining = 0;
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
        for (int i = 0; i < ios.depth(); i++) {
            ScsiIo io = ios.get(i);
            if (io.active && io.op != IoType.RESET && io.seq > max) {
                max = io.seq;
            }
        }
        return max;
    }

    /** Completes resets whose TMF is done and whose earlier I/O has drained. Called by the queue's poll. */
    void processResets() {
        for (int i = 0; i < ios.depth(); i++) {
            ScsiIo r = ios.get(i);
            if (!r.active || r.op != IoType.RESET || r.tmf == null || !r.tmf.done) {
                continue;
            }
            if (olderIoInFlight(r.lba)) {
                continue;
            }
            ControlQueue.Tmf tmf = r.tmf;
            if (tmf.error != null) {
                r.error = new BdevIoException(BdevIoException.reasonOf(tmf.error, Reason.QUEUE_BROKEN), "bdev " + disk.name() + ": reset (LOGICAL UNIT RESET) failed: " + tmf.error.getMessage(), tmf.error);
            } else if (tmf.response != VIRTIO_SCSI_S_FUNCTION_COMPLETE && tmf.response != VIRTIO_SCSI_S_FUNCTION_SUCCEEDED) {
                r.error = ScsiIoException.tmfResponse("bdev " + disk.name() + ": reset (LOGICAL UNIT RESET)", tmf.response);
            }
            ctrl.control().release(tmf);
            r.tmf = null;
            resetsPending--;
            queue.resetsPending--;
            queue.complete(r);
        }
    }

    private boolean olderIoInFlight(long mark) {
        for (int i = 0; i < ios.depth(); i++) {
            ScsiIo io = ios.get(i);
            if (io.active && io.op != IoType.RESET && io.seq <= mark) {
                return true;
            }
        }
        return false;
    }

    /** The controller is gone: resets fail (their TMFs will never complete). */
    void failResets(VirtioException error) {
        for (int i = 0; i < ios.depth(); i++) {
            ScsiIo r = ios.get(i);
            if (r.active && r.op == IoType.RESET) {
                r.error = new BdevIoException(BdevIoException.reasonOf(error, Reason.CLOSED), "bdev " + disk.name() + ": reset failed: " + error.getMessage(), error);
                r.tmf = null; // its context stays taken: the device may never answer
                resetsPending--;
                queue.resetsPending--;
                queue.complete(r);
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
    // ---------------------------------------------------------------- waiting (interrupt and adaptive modes)

    @Override
    public int waitForCompletions(long timeoutNanos) {
        return waiter.await(timeoutNanos);
    }

    @Override
    public void setCompletionMode(CompletionMode mode) {
        waiter.setSpinNanos(mode.spinNanos());
        this.completionMode = mode;
    }

    @Override
    public CompletionMode completionMode() {
        return completionMode;
    }

    @Override
    public int completionFd() {
        return waiter.completionFd();
    }

    @Override
    public boolean armCompletionFd() {
        return waiter.arm();
    }

    @Override
    public void disarmCompletionFd() {
        waiter.disarm();
    }

    /** @return the waiting half of this channel's completion modes, with its counters (diagnostics) */
    public CompletionWaiter completionWaiter() {
        return waiter;
    }

    @Override
    public int poll() {
        if (closed) {
            return 0;
        }
        return queue.poll();
    }

    @Override
    public int inFlight() {
        return ios.inUse();
    }

    /** A removed LUN's channel tells the disk when its last I/O is done. */
    void checkRemoval() {
        if (!removalAcked && disk.removed && ios.inUse() == 0) {
            removalAcked = true;
            disk.channelDrained(this);
        }
    }

    // ---------------------------------------------------------------- bookkeeping

    private ScsiIo take() {
        ScsiIo io = ios.take();
        if (io != null) {
            io.active = true;
        }
        return io;
    }

    private void giveBack(ScsiIo io) {
        io.clear();
        ios.give(io);
    }

    /** The checks in the order scsi reports them: a removed LUN before a broken queue. */
    private void checkUsable(String op) {
        check.checkChannelOpen(op, closed);
        if (disk.removed) {
            throw disk.removedError(op, -1);
        }
        check.checkQueue(op, queue.vq.name(), queue.vq.brokenReason());
        check.checkDeviceOpen(op, ctrl.isDeviceClosed());
        if (ctrl.refusesIo()) {
            check.checkTransport(op, ctrl.linkDownMessage());
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
        while (ios.inUse() > 0 && !queue.vq.isBroken() && !ctrl.isDeviceClosed() && System.nanoTime() < deadline) {
            if (queue.poll() == 0) {
                Thread.onSpinWait();
            }
        }
        if (ios.inUse() > 0) {
            queue.poll(); // fails everything when the controller is closed
        }
        if (ios.inUse() > 0) {
            int stuck = ios.inUse();
            BdevIoException e = new BdevIoException(Reason.TIMED_OUT, "bdev " + disk.name() + ": channel on " + queue.vq.name() + " closed with " + stuck
                    + " I/Os the device did not complete in " + CLOSE_DRAIN_NANOS / 1_000_000 + " ms");
            if (resetsPending > 0) {
                failResets(e);
            }
            queue.abandon(ios, e);
            LOG.error("bdev {}: {} I/Os on {} not completed by the device within {} ms; failed to their callers",
                    disk.name(), stuck, queue.vq.name(), CLOSE_DRAIN_NANOS / 1_000_000);
        }
        closed = true;
        ctrl.channelClosed(this);
    }

    @Override
    public String toString() {
        return "VirtioScsiChannel[" + disk.name() + " on " + queue.vq.name() + ", in flight " + ios.inUse() + "]";
    }
}
