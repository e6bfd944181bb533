package io.jvirtio.scsi;

import io.jvirtio.core.DeviceException;
import io.jvirtio.core.LinkListener;
import io.jvirtio.core.VirtioDevice;
import io.jvirtio.core.ring.Virtqueue;
import io.jvirtio.spec.VirtioException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

import static io.jvirtio.spec.scsi.VirtioScsiSpec.CONTROLQ;
import static io.jvirtio.spec.scsi.VirtioScsiSpec.EVENTQ;

/**
 * A controller's part in a reconnect: the queues no I/O thread polls (the control queue, the event
 * queue, the dedicated scan queue, parked request queues) handed over to the restarted target, then
 * every target rescanned.
 *
 * <p>Those queues are not one thread's: the control queue is shared under its lock, the event and
 * scan queues under the scan lock, and the thread that attached owns them in the device layer
 * without ever polling them. So none of them would hand its ring over from a poll as an I/O
 * thread's queue does. When the link goes down (and a reconnect policy is set), a thread of the
 * controller's takes both locks, so nothing else touches those rings, takes what the dead target
 * completed, and gives the queues back to the device layer: the reconnector then prepares them
 * itself ({@code Virtqueue.prepareReplay}; the event buffers in flight go back into the avail
 * ring, which is exactly posting them again). Until the link is back the thread keeps taking what
 * a target that died again during its restart may have completed, so that every attempt finds them
 * ready. Once the link is back it takes the queues again, kicks them, lets go of the control queue
 * and rescans every target under the scan lock: LUNs that went are removed as a rescan removes
 * them, new ones added. Parked queues lose their orphaned commands and go back to the device layer.
 *
 * <p>While it holds the locks, resets are refused as busy (poll and try again), scans and event
 * polls wait or return at once; scans that were running fail at their next command.
 */
final class LinkHandover implements LinkListener {
    private static final Logger LOG = LoggerFactory.getLogger(LinkHandover.class);
    /** How often the held queues are looked at while the link is down. */
    private static final long WAIT_SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    /** Runs the rescan after a reconnect; the caller holds the scan lock. */
    @FunctionalInterface
    interface Rescan {
        void run();
    }

    private final VirtioDevice device;
    private final ControlQueue control;
    private final EventQueue events;
    private final ScsiRequestQueue scanQueue;
    private final RequestQueueAssignment queues;
    private final ReentrantLock scanLock;
    private final Rescan rescan;
    private final BooleanSupplier closed;
    private volatile boolean givenUp;
    private volatile Thread thread;

    /**
     * @param scanQueue the dedicated scan queue, or null
     * @param closed    whether the controller is closing: the hand-over stops at once
     */
    LinkHandover(VirtioDevice device, ControlQueue control, EventQueue events, ScsiRequestQueue scanQueue,
                 RequestQueueAssignment queues, ReentrantLock scanLock, Rescan rescan, BooleanSupplier closed) {
        this.device = device;
        this.control = control;
        this.events = events;
        this.scanQueue = scanQueue;
        this.queues = queues;
        this.scanLock = scanLock;
        this.rescan = rescan;
        this.closed = closed;
    }

    // ---------------------------------------------------------------- link events (jvirtio's threads)

    @Override
    public void disconnected(String deviceName, String reason) {
        if (!device.reconnectPolicy().reconnects() || closed.getAsBoolean()) {
            return; // every queue fails its I/O: nothing to hand over
        }
        thread = Thread.ofPlatform().daemon().name("jvirtio-scsi-" + deviceName + "-handover").start(this::handOver);
    }

    @Override
    public void givenUp(String deviceName, String reason) {
        givenUp = true;
    }

    /** Waits up to {@code millis} for a hand-over in progress to end (the controller is closing). */
    void awaitEnd(long millis) {
        Thread t = thread;
        if (t != null && t != Thread.currentThread()) {
            LockSupport.unpark(t);
            try {
                t.join(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ---------------------------------------------------------------- the hand-over

    /** Whether to stop waiting for a lock or for the link: closed, given up, or the link is up. */
    private boolean stop() {
        return closed.getAsBoolean() || givenUp || device.transportLost() == null;
    }

    private void handOver() {
        if (!lock(scanLock)) {
            return;
        }
        boolean back = false;
        try {
            if (!control.lockForHandover(this::stop)) {
                return;
            }
            try {
                back = holdWhileDown();
            } finally {
                control.unlockAfterHandover();
            }
            if (back) {
                rescan.run();
            }
        } finally {
            scanLock.unlock();
        }
    }

    /** @return whether the link is back and the queues run on the new target */
    private boolean holdWhileDown() {
        String lost = device.transportLost();
        queues.dropParked(new VirtioException(device.name() + ": " + (lost != null ? lost : "the link went down")));
        List<Virtqueue> held = heldQueues();
        for (Virtqueue vq : held) {
            takeUsed(vq);
        }
        for (Virtqueue vq : held) {
            device.releaseQueue(vq);
        }
        LOG.debug("{}: control, event{} queue given to the reconnector", device.name(), scanQueue != null ? " and scan" : "");
        while (!closed.getAsBoolean() && !givenUp && device.transportLost() != null) {
            LockSupport.parkNanos(WAIT_SLICE_NANOS);
            for (Virtqueue vq : held) {
                // a target that died again during its restart may have completed what was replayed
                Virtqueue mine = tryAcquire(vq.index());
                if (mine != null) {
                    try {
                        if (mine.hasUsed()) {
                            takeUsed(mine);
                        }
                    } finally {
                        device.releaseQueue(mine);
                    }
                }
            }
        }
        if (!takeBack(held)) {
            return false;
        }
        if (givenUp || device.transportLost() != null) {
            return false;
        }
        for (Virtqueue vq : held) {
            vq.kick();
        }
        return true;
    }

    private List<Virtqueue> heldQueues() {
        List<Virtqueue> l = new ArrayList<>(3);
        l.add(device.queue(CONTROLQ));
        l.add(device.queue(EVENTQ));
        if (scanQueue != null) {
            l.add(scanQueue.vq);
        }
        return l;
    }

    /** Takes what the ring holds, through the sink of the queue it is; the caller holds that queue's lock. */
    private void takeUsed(Virtqueue vq) {
        if (vq.index() == CONTROLQ) {
            control.takeAllUsed();
        } else if (vq.index() == EVENTQ) {
            List<EventQueue.Event> taken = new ArrayList<>();
            events.takeAll(taken);
            for (EventQueue.Event e : taken) {
                LOG.info("{}: event {} came while the link went down; the rescan after the reconnect covers it", device.name(), e);
            }
        } else {
            scanQueue.takeAllUsed();
        }
    }

    /** Binds the queues to this thread again once the reconnector let go of them; false when the device closed. */
    private boolean takeBack(List<Virtqueue> held) {
        for (Virtqueue vq : held) {
            while (tryAcquire(vq.index()) == null) {
                if (closed.getAsBoolean()) {
                    return false;
                }
                LockSupport.parkNanos(WAIT_SLICE_NANOS / 10);
            }
        }
        return true;
    }

    /** @return the queue bound to this thread, or null when another thread holds it or the device is closed */
    private Virtqueue tryAcquire(int index) {
        try {
            return device.acquireQueue(index);
        } catch (DeviceException e) {
            return null; // closed
        }
    }

    private boolean lock(ReentrantLock lock) {
        while (true) {
            try {
                if (lock.tryLock(WAIT_SLICE_NANOS, TimeUnit.NANOSECONDS)) {
                    return true;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
            if (stop()) {
                return false;
            }
        }
    }
}
