package io.jvirtio.scsi;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.core.VirtioDevice;
import io.jvirtio.core.ring.Virtqueue;
import io.jvirtio.spec.VirtioException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

import static io.jvirtio.spec.scsi.VirtioScsiSpec.REQUESTQ_BASE;

/**
 * Which thread holds which request queue of a controller (SPDK's
 * {@code virtio_dev_find_and_acquire_queue} as {@code bdev_virtio_scsi_ch_create_cb} uses it): a
 * thread's first channel on any LUN takes a free queue, its further LUN channels share it (counted in
 * {@link ScsiRequestQueue#refs}), its last one gives it back. Also the scan queue, and when owned
 * memory may be unmapped: only once no queue is left whose ring the device may still read.
 *
 * <p>Guarded by its own monitor, which is also what makes "closed" and "open a channel" exclusive.
 */
final class RequestQueueAssignment {
    private static final Logger LOG = LoggerFactory.getLogger(RequestQueueAssignment.class);

    /** Wraps a ring the device layer handed out as a request queue of the controller. */
    @FunctionalInterface
    interface QueueFactory {
        ScsiRequestQueue create(Virtqueue vq, Thread owner);
    }

    private final String name;
    private final VirtioDevice device;
    private final QueueFactory factory;
    private final BooleanSupplier deviceClosed;
    private final int firstIoQueue;
    private final int ioQueues;
    private final int channelDepth;
    private final boolean ownsMemory;
    /** the queue reserved for scans, or null when scans borrow the scanning thread's queue */
    private final ScsiRequestQueue scanQueue;

    private final Map<Thread, ScsiRequestQueue> threadQueues = new HashMap<>();
    /**
     * queues given up while the device still held commands of theirs (a scan command that timed out, a
     * closed channel's I/O): never handed back to the device, but reused by the next thread that finds
     * no fresh queue (late completions of the old commands are then freed by its poll)
     */
    private final List<ScsiRequestQueue> parked = new ArrayList<>();
    /** thread queues not yet given back: the memory stays mapped while any may still read its ring */
    private int openQueues;
    private volatile boolean closed;

    /**
     * @param dedicatedScan whether queue {@code REQUESTQ_BASE} is reserved for scans (I/O queues follow it)
     * @param channelDepth  I/Os per channel, or 0 for the queue size
     */
    RequestQueueAssignment(VirtioDevice device, QueueFactory factory, BooleanSupplier deviceClosed, boolean dedicatedScan,
                           int ioQueues, int channelDepth, boolean ownsMemory) {
        this.name = device.name();
        this.device = device;
        this.factory = factory;
        this.deviceClosed = deviceClosed;
        this.firstIoQueue = REQUESTQ_BASE + (dedicatedScan ? 1 : 0);
        this.ioQueues = ioQueues;
        this.channelDepth = channelDepth;
        this.ownsMemory = ownsMemory;
        this.scanQueue = dedicatedScan ? factory.create(device.acquireQueue(REQUESTQ_BASE), null) : null;
    }

    /** @return the queue reserved for scans, or null */
    ScsiRequestQueue dedicatedScanQueue() {
        return scanQueue;
    }

    boolean isClosed() {
        return closed;
    }

    /** @return false when it was closed already */
    synchronized boolean markClosed() {
        if (closed) {
            return false;
        }
        closed = true;
        return true;
    }

    // ---------------------------------------------------------------- channels

    /** Opens a channel of the calling thread to {@code disk}, on the thread's request queue. */
    synchronized VirtioScsiChannel openChannel(VirtioScsiDisk disk) {
        if (closed) {
            throw new BdevIoException(Reason.CLOSED, "bdev " + disk.name() + ": controller " + name + " is closed");
        }
        if (disk.removed) {
            throw disk.removedError("open channel", -1);
        }
        ScsiRequestQueue q = acquire();
        if (q == null) {
            int broken = device.brokenQueues(firstIoQueue);
            throw new BdevIoException(Reason.RESOURCES_EXHAUSTED, "bdev " + disk.name() + ": all " + ioQueues + " request queues of controller "
                    + name + " are taken by other threads"
                    + (broken > 0 ? " or out of service (" + broken + " broken by the device; see the log)" : "")
                    + " (one queue per thread, shared by all its LUN channels; attach with more request queues, vq_count)");
        }
        int depth = channelDepth > 0 ? channelDepth : q.vq.size();
        VirtioScsiChannel ch = new VirtioScsiChannel(disk, q, depth);
        try {
            disk.channelOpened(ch);
        } catch (RuntimeException e) {
            release(q);
            throw e;
        }
        q.addChannel(ch, depth);
        return ch;
    }

    void channelClosed(VirtioScsiChannel ch) {
        ch.disk.channelClosed(ch);
        synchronized (this) {
            ch.queue.removeChannel(ch);
            release(ch.queue);
        }
    }

    // ---------------------------------------------------------------- scans

    /**
     * Runs {@code scan} on the scan queue, or on the calling thread's request queue (taking a free one
     * if it has none, as SPDK's scan takes an I/O channel of its thread). Does nothing once closed.
     *
     * @return false when no queue was available (every request queue is held by another thread)
     */
    boolean withScanQueue(Consumer<ScsiRequestQueue> scan) {
        if (scanQueue != null) {
            scan.accept(scanQueue);
            return true;
        }
        ScsiRequestQueue q;
        synchronized (this) {
            if (closed) {
                return true;
            }
            q = acquire();
        }
        if (q == null) {
            return false;
        }
        try {
            scan.accept(q);
        } finally {
            synchronized (this) {
                release(q);
            }
        }
        return true;
    }

    /**
     * The link to the target is down: parked queues hold only commands nobody waits for (orphans of
     * closed channels, scans that timed out), and no thread polls them, so none would hand its
     * ring over for the reconnect. Their commands are dropped (the dead target will not complete
     * them) and the queues go back to the device layer, where the reconnector prepares them.
     */
    synchronized void dropParked(VirtioException why) {
        for (Iterator<ScsiRequestQueue> it = parked.iterator(); it.hasNext(); ) {
            ScsiRequestQueue q = it.next();
            q.failEverything(why);
            if (q.outstanding() > 0) {
                continue; // cannot happen: every command was in the ring or held for a retry
            }
            it.remove();
            q.freeMemory();
            device.releaseQueue(q.vq);
            openQueues--;
            LOG.info("{}: {} was parked with commands nobody waits for; dropped them as the link went down", name, q.vq.name());
        }
    }

    // ---------------------------------------------------------------- acquire and release

    /** @return the calling thread's request queue (taking a free one if it has none), or null when none is free */
    private ScsiRequestQueue acquire() {
        Thread me = Thread.currentThread();
        ScsiRequestQueue q = threadQueues.get(me);
        if (q != null) {
            q.refs++;
            return q;
        }
        Virtqueue vq = device.findAndAcquireQueue(firstIoQueue);
        if (vq == null) {
            return reuseParked(me);
        }
        try {
            q = factory.create(vq, me);
        } catch (RuntimeException e) {
            device.releaseQueue(vq);
            throw e;
        }
        q.refs = 1;
        threadQueues.put(me, q);
        openQueues++;
        return q;
    }

    private ScsiRequestQueue reuseParked(Thread me) {
        for (Iterator<ScsiRequestQueue> it = parked.iterator(); it.hasNext(); ) {
            ScsiRequestQueue p = it.next();
            if (!p.vq.isBroken()) {
                it.remove();
                p.owner = me;
                p.refs = 1;
                threadQueues.put(me, p);
                LOG.info("{}: reusing {} ({} command(s) the device has not completed yet)", name, p.vq.name(), p.outstanding());
                return p;
            }
        }
        return null;
    }

    private void release(ScsiRequestQueue q) {
        if (--q.refs > 0) {
            return;
        }
        threadQueues.remove(q.owner, q);
        if (q.outstanding() > 0 && !deviceClosed.getAsBoolean() && !q.vq.isBroken()) {
            // the device still owns commands of this ring and may complete into it: never hand it back to the
            // device layer (which would free the ring); park it for the next thread
            q.owner = null;
            parked.add(q);
            LOG.warn("{}: {} given up with {} command(s) the device has not completed; parked", name, q.vq.name(),
                    q.outstanding());
            return;
        }
        q.freeMemory();
        device.releaseQueue(q.vq);
        openQueues--;
        if (closed) {
            unmapWhenUnused();
        }
    }

    /**
     * At close, once the device is reset and no scan uses the scan queue: gives back the scan queue and
     * the parked ones; owned memory is unmapped now if no thread queue is left, else by the last one's release.
     */
    synchronized void releaseAtClose() {
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
        unmapWhenUnused();
    }

    private void unmapWhenUnused() {
        if (ownsMemory && openQueues == 0) {
            device.memory().close();
        }
    }
}
