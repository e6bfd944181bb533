package io.jvirtio.blk;

import io.jvirtio.bdev.AbstractIoChannel;
import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.CompletionMode;
import io.jvirtio.core.CompletionWaiter;
import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.bdev.IoCallback;
import io.jvirtio.bdev.IoType;
import io.jvirtio.bdev.driver.IoCounters;
import io.jvirtio.bdev.driver.IoSlots;
import io.jvirtio.bdev.driver.IoValidator;
import io.jvirtio.core.VirtioDevice;
import io.jvirtio.core.ring.Virtqueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;

import static io.jvirtio.spec.blk.VirtioBlkSpec.*;

/**
 * A thread's channel to a {@link VirtioBlkDevice}: owns one request queue ({@link BlkRequestQueue})
 * with its virtio requests ({@link BlkPart}, headers in device memory) and a pool of caller I/O
 * contexts ({@link BlkIo}). Submission and completion allocate nothing and make no syscall but the
 * kick the device asked for.
 *
 * <p>Caller I/Os that do not fit the ring right away wait in a FIFO and are resumed from
 * {@link #poll()}; once anything waits, later I/Os queue behind it so order is kept.
 */
public final class VirtioBlkChannel extends AbstractIoChannel {
    private static final Logger LOG = LoggerFactory.getLogger(VirtioBlkChannel.class);
    private static final int POLL_BATCH = 64;
    private static final long CLOSE_DRAIN_NANOS = 5_000_000_000L;
    private static final String GET_ID = "get_id";

    private final VirtioBlkDevice dev;
    private final Virtqueue vq;
    private final MemorySegment partMemory;
    private final Thread owner;
    private final IoValidator check;
    private final IoSlots<BlkIo> ios;
    private final BlkRequestQueue requests;
    private final CompletionWaiter waiter;
    private CompletionMode completionMode = CompletionMode.polling();
    private boolean closed;

    VirtioBlkChannel(VirtioBlkDevice dev, Virtqueue vq, int depth, IoCounters counters) {
        this.dev = dev;
        this.vq = vq;
        this.owner = Thread.currentThread();
        this.check = dev.validator();
        this.partMemory = dev.allocateBuffer((long) vq.size() * BlkPart.STRIDE, 64);
        this.ios = new IoSlots<>(dev.name(), depth, BlkIo::new, counters);
        this.requests = new BlkRequestQueue(dev, vq, partMemory, depth);
        VirtioDevice device = dev.device();
        this.waiter = new CompletionWaiter(device.transportType(), vq, () -> device.completionFd(vq), this::poll);
    }

    @Override
    public Bdev bdev() {
        return dev;
    }

    /** @return this channel's I/O counters (the device sums them) */
    IoCounters counters() {
        return ios.counters();
    }

    /** @return the request queue this channel owns (for diagnostics: only this channel may drive it) */
    public Virtqueue queue() {
        return vq;
    }

    // ---------------------------------------------------------------- submission

    @Override
    protected boolean rw(IoType op, MemorySegment[] iovs, MemorySegment single, int iovcnt, long offset,
                       IoCallback callback, Object context) {
        String name = op.spdkName();
        checkUsable(name);
        if (op == IoType.WRITE) {
            check.checkWritable(name, offset, dev.readOnly());
        }
        long length = single != null ? check.checkIov(name, single, 0) : check.checkIovs(name, iovs, iovcnt);
        check.checkRange(name, offset, length, dev.config().capacityBytes());
        BlkIo io = ios.take();
        if (io == null) {
            return false;
        }
        io.setData(iovs, single, iovcnt);
        io.bytes = length;
        start(io, op, op == IoType.READ ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT, offset, length, callback, context);
        return true;
    }

    @Override
    public boolean flush(IoCallback callback, Object context) {
        checkUsable(IoType.FLUSH.spdkName());
        check.checkSupported(IoType.FLUSH);
        return noData(IoType.FLUSH, VIRTIO_BLK_T_FLUSH, null, callback, context);
    }

    /**
     * Reads the device's serial (VIRTIO_BLK_T_GET_ID) into {@code buffer}, which must be at least 20 bytes.
     */
    public boolean getId(MemorySegment buffer, IoCallback callback, Object context) {
        checkUsable(GET_ID);
        if (buffer.byteSize() < VIRTIO_BLK_ID_BYTES) {
            throw new BdevIoException(Reason.INVALID_ARGUMENT, "bdev " + dev.name() + ": get_id buffer of " + buffer.byteSize()
                    + " bytes, need " + VIRTIO_BLK_ID_BYTES);
        }
        check.checkBuffer(GET_ID, buffer);
        return noData(IoType.READ, VIRTIO_BLK_T_GET_ID, buffer, callback, context);
    }

    /** A request of one part whose only data (if any) is a buffer the device fills: flush, get-id. */
    private boolean noData(IoType op, int type, MemorySegment buffer, IoCallback callback, Object context) {
        BlkIo io = ios.take();
        if (io == null) {
            return false;
        }
        io.setData(null, buffer, buffer == null ? 0 : 1);
        io.bytes = type == VIRTIO_BLK_T_GET_ID ? BlkIo.UNCOUNTED : 0;
        start(io, op, type, 0, 1, callback, context);
        return true;
    }

    @Override
    public boolean reset(IoCallback callback, Object context) {
        checkUsable(IoType.RESET.spdkName());
        BlkIo io = ios.take();
        if (io == null) {
            return false;
        }
        io.op = IoType.RESET;
        io.remaining = 0;
        io.callback = callback;
        io.context = context;
        // virtio-blk has no reset command: as SPDK, a reset completes once earlier I/O has drained,
        // and always from poll(), never from within this call.
        requests.defer(io);
        return true;
    }

    @Override
    public boolean unmap(long offset, long length, IoCallback callback, Object context) {
        return dwz(IoType.UNMAP, VIRTIO_BLK_T_DISCARD, offset, length, callback, context);
    }

    @Override
    public boolean writeZeroes(long offset, long length, IoCallback callback, Object context) {
        return dwz(IoType.WRITE_ZEROES, VIRTIO_BLK_T_WRITE_ZEROES, offset, length, callback, context);
    }

    private boolean dwz(IoType op, int type, long offset, long length, IoCallback callback, Object context) {
        String name = op.spdkName();
        checkUsable(name);
        check.checkSupported(op);
        check.checkWritable(name, offset, dev.readOnly());
        check.checkRange(name, offset, length, dev.config().capacityBytes());
        BlkIo io = ios.take();
        if (io == null) {
            return false;
        }
        io.setData(null, null, 0);
        io.bytes = length;
        start(io, op, type, offset, length, callback, context);
        return true;
    }

    /** @param remaining bytes to carry, or 1 for the one request of a flush or get-id */
    private void start(BlkIo io, IoType op, int type, long offset, long remaining, IoCallback callback, Object context) {
        io.op = op;
        io.type = type;
        io.offset = offset;
        io.sector = offset >>> SECTOR_SHIFT;
        io.remaining = remaining;
        io.callback = callback;
        io.context = context;
        requests.start(io);
        vq.reqFlush();
    }

    private void checkUsable(String op) {
        check.checkChannelOpen(op, closed);
        check.checkQueue(op, vq.name(), vq.brokenReason());
        check.checkDeviceOpen(op, dev.isClosed());
        if (dev.device().refusesIo()) {
            check.checkTransport(op, dev.device().linkDownMessage());
        }
    }

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

    // ---------------------------------------------------------------- completion

    @Override
    public int poll() {
        int before = requests.completed();
        if (dev.isClosed() && !closed) {
            requests.failEverything(new BdevIoException(Reason.CLOSED, "bdev " + dev.name() + " was closed with I/O in flight"));
            return requests.completed() - before;
        }
        vq.poll(POLL_BATCH, requests);
        VirtioDevice device = dev.device();
        if (device.transportLost() != null) {
            // What the target completed before it went is in the used ring: take all of it first.
            while (vq.poll(POLL_BATCH, requests) > 0) {
                Thread.onSpinWait();
            }
            int step = device.linkDownStep(vq);
            if (step == VirtioDevice.LINK_FAIL) {
                if (ios.inUse() > 0) {
                    requests.failEverything(new BdevIoException(Reason.TRANSPORT_LOST, device.linkDownMessage()));
                }
                return requests.completed() - before;
            }
            if (step == VirtioDevice.LINK_WAIT) {
                return requests.completed() - before;
            }
            // resumed: the new target has the ring; go on as usual
        }
        if (requests.hasPending()) {
            requests.drainPending();
            // Flush even when the head I/O is still waiting: it may have started some of its parts.
            vq.reqFlush();
        }
        return requests.completed() - before;
    }

    @Override
    public int inFlight() {
        return ios.inUse();
    }

    // ---------------------------------------------------------------- teardown

    /**
     * Waits up to 5 s for in-flight I/O (polling), fails what is left, and gives the queue back.
     * Must be called by the owning thread.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        if (Thread.currentThread() != owner) {
            LOG.warn("bdev {}: channel on {} closed from thread {}", dev.name(), vq.name(), Thread.currentThread().getName());
        }
        long deadline = System.nanoTime() + CLOSE_DRAIN_NANOS;
        while (ios.inUse() > 0 && !vq.isBroken() && !dev.isClosed() && System.nanoTime() < deadline) {
            poll(); // fails everything at once when the transport is gone
        }
        if (ios.inUse() > 0 && !vq.isBroken() && !dev.isClosed() && dev.device().transportLost() == null) {
            // The device still owns those requests and may yet complete them into this ring and these
            // buffers: fail them to the caller, but neither rewrite the ring nor hand it to anyone.
            int stuck = ios.inUse();
            requests.abandon(ios, new BdevIoException(Reason.TIMED_OUT, "bdev " + dev.name() + ": channel on " + vq.name() + " closed with "
                    + stuck + " I/Os the device did not complete in " + CLOSE_DRAIN_NANOS / 1_000_000
                    + " ms; queue quarantined until the device is closed"));
            closed = true;
            LOG.error("bdev {}: {} I/Os on {} not completed by the device within {} ms; the queue is quarantined until the device is closed",
                    dev.name(), stuck, vq.name(), CLOSE_DRAIN_NANOS / 1_000_000);
            dev.channelQuarantined(this, partMemory);
            return;
        }
        if (ios.inUse() > 0) {
            requests.failEverything(new BdevIoException(Reason.CLOSED, "bdev " + dev.name() + ": channel on " + vq.name() + " closed with "
                    + ios.inUse() + " I/Os in flight"));
        }
        closed = true;
        dev.channelClosed(this, partMemory);
    }
}
