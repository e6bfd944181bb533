package io.jvirtio.scsi;

import io.jvirtio.spec.VirtioException;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.ring.Virtqueue;
import io.jvirtio.core.ring.UsedSink;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

import static io.jvirtio.spec.scsi.VirtioScsiSpec.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * The control queue (queue 0): task management functions, shared by every thread of a controller.
 * SPDK funnels TMFs through a ring to its management poller; here any thread submits under a short
 * lock and whoever polls (a channel waiting for its reset, {@link VirtioScsiController#pollEvents})
 * takes completions under the same lock, without blocking ({@code tryLock}). A completed TMF is
 * marked done; the channel that asked sees it on its next poll and runs the callback on its own
 * thread. TMF contexts ({@link Tmf}) are preallocated, as SPDK's {@code CTRLQ_RING_SIZE} of 16.
 */
final class ControlQueue implements UsedSink {
    private static final Logger LOG = LoggerFactory.getLogger(ControlQueue.class);
    /** TMFs in flight at once (SPDK's {@code CTRLQ_RING_SIZE}). */
    static final int MAX_TMFS = 16;
    private static final int STRIDE = 64;
    private static final long HANDOVER_WAIT_NANOS = 100_000;

    /** One task management function: request and response in device memory, the outcome for the asking thread. */
    static final class Tmf {
        final int slot;
        final MemorySegment req;
        final MemorySegment resp;
        int subtype;
        /** written by the control-queue poller before {@link #done}, read by the asking thread after it */
        int response;
        VirtioException error;
        volatile boolean done;
        /** volatile: given back without the queue's lock, which the controller may hold while the link is down */
        volatile boolean inUse;

        Tmf(int slot, MemorySegment memory) {
            this.slot = slot;
            this.req = memory.asSlice(0, TMF_REQ_SIZE);
            this.resp = memory.asSlice(32, TMF_RESP_SIZE);
        }
    }

    private final String name;
    private final Virtqueue vq;
    private final MemoryDomain memory;
    private final MemorySegment tmfMemory;
    private final Tmf[] tmfs;
    private final ReentrantLock lock = new ReentrantLock();
    private final BooleanSupplier linkDown;
    private volatile int inFlight;

    /** @param linkDown whether the link to the target is down (the controller then holds the queue) */
    ControlQueue(String name, Virtqueue vq, MemoryDomain memory, BooleanSupplier linkDown) {
        this.name = name;
        this.vq = vq;
        this.memory = memory;
        this.linkDown = linkDown;
        int n = Math.min(MAX_TMFS, vq.size());
        this.tmfMemory = memory.allocate((long) n * STRIDE, 64);
        this.tmfs = new Tmf[n];
        for (int i = 0; i < n; i++) {
            tmfs[i] = new Tmf(i, tmfMemory.asSlice((long) i * STRIDE, STRIDE));
        }
    }

    /**
     * Submits a task management function.
     *
     * @return the TMF to watch, or null when {@link #MAX_TMFS} are already in flight or the link is down
     * @throws VirtioException when the control queue is broken
     */
    Tmf submit(int subtype, int target, int lunAddress, long taskId) {
        if (!lockUnlessLinkDown()) {
            return null;
        }
        try {
            Tmf t = null;
            for (Tmf x : tmfs) {
                if (!x.inUse) {
                    t = x;
                    break;
                }
            }
            if (t == null) {
                return null;
            }
            t.req.fill((byte) 0);
            t.req.set(LE_INT, TMF_TYPE, VIRTIO_SCSI_T_TMF);
            t.req.set(LE_INT, TMF_SUBTYPE, subtype);
            writeLun(t.req, TMF_LUN, target, lunAddress);
            t.req.set(LE_LONG, TMF_ID, taskId);
            t.resp.set(JAVA_BYTE, 0, ScsiCmd.RESPONSE_UNSET);
            t.subtype = subtype;
            t.response = -1;
            t.error = null;
            t.done = false;
            if (!vq.reqStart(t, 2)) {
                return null; // cannot happen while at most MAX_TMFS <= size/2 are in flight; treated as busy
            }
            vq.reqAddIov(t.req.address(), TMF_REQ_SIZE, false);
            vq.reqAddIov(t.resp.address(), TMF_RESP_SIZE, true);
            vq.reqFlush();
            t.inUse = true;
            inFlight++;
            return t;
        } finally {
            lock.unlock();
        }
    }

    /**
     * While the link is down the controller holds the lock until the queue runs on the new target;
     * a caller waiting for it here would stop polling its own request queue, which the reconnect
     * waits for. So it is told to come back instead.
     */
    private boolean lockUnlessLinkDown() {
        while (!lock.tryLock()) {
            if (linkDown.getAsBoolean()) {
                return false;
            }
            Thread.onSpinWait();
        }
        return true;
    }

    /** Gives a TMF the asking thread has seen done back to the pool (no lock: see {@link #lockUnlessLinkDown}). */
    void release(Tmf t) {
        t.inUse = false;
    }

    // ---------------------------------------------------------------- link hand-over

    /**
     * Takes the queue for a hand-over (the link is down): blocks until no other thread is in it.
     *
     * @return false when {@code giveUp} said to stop waiting first
     */
    boolean lockForHandover(BooleanSupplier giveUp) {
        while (!lock.tryLock()) {
            if (giveUp.getAsBoolean()) {
                return false;
            }
            LockSupport.parkNanos(HANDOVER_WAIT_NANOS);
        }
        return true;
    }

    /** Ends a hand-over. */
    void unlockAfterHandover() {
        lock.unlock();
    }

    /** Takes every completion the ring holds; only under {@link #lockForHandover}. */
    void takeAllUsed() {
        while (vq.poll(MAX_TMFS, this) > 0) {
            Thread.onSpinWait();
        }
    }

    /** Takes completions if no other thread is doing so; never blocks. @return completions taken */
    int tryPoll() {
        if (inFlight == 0 || !lock.tryLock()) {
            return 0;
        }
        try {
            return vq.poll(MAX_TMFS, this);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void onUsed(Object cookie, int len) {
        Tmf t = (Tmf) cookie;
        t.response = len < TMF_RESP_SIZE ? -1 : Byte.toUnsignedInt(t.resp.get(JAVA_BYTE, 0));
        if (t.response == Byte.toUnsignedInt(ScsiCmd.RESPONSE_UNSET)) {
            t.response = -1;
        }
        inFlight--;
        t.done = true;
    }

    @Override
    public void onError(Object cookie, VirtioException error) {
        Tmf t = (Tmf) cookie;
        t.error = error;
        inFlight--;
        t.done = true;
        LOG.warn("{}: task management function failed: {}", name, error.getMessage());
    }

    /** Writes the 8-byte virtio LUN field: 1, target, the single-level LUN address, zeros. */
    static void writeLun(MemorySegment seg, long offset, int target, int lunAddress) {
        seg.set(JAVA_BYTE, offset, (byte) 1);
        seg.set(JAVA_BYTE, offset + 1, (byte) target);
        seg.set(JAVA_BYTE, offset + 2, (byte) (lunAddress >>> 8));
        seg.set(JAVA_BYTE, offset + 3, (byte) lunAddress);
        seg.set(LE_INT, offset + 4, 0);
    }

    Virtqueue queue() {
        return vq;
    }

    /**
     * Returns the TMF memory and the queue to the device; only once the device no longer touches the
     * queue (it was reset). Under the lock: no thread is polling the queue meanwhile.
     */
    void release(io.jvirtio.core.VirtioDevice device) {
        lock.lock();
        try {
            inFlight = 0;
            memory.free(tmfMemory);
            device.releaseQueue(vq);
        } finally {
            lock.unlock();
        }
    }
}
