package io.jvirtio.core;

import io.jvirtio.core.jfr.LinkDownEvent;
import io.jvirtio.core.jfr.LinkUpEvent;
import io.jvirtio.core.ring.Virtqueue;
import io.jvirtio.spec.vhostuser.VhostUserException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.locks.LockSupport;

/**
 * One device's link to its target across losses: records a loss, runs the reconnect by the
 * {@link ReconnectPolicy}, and hands the rings over to a restarted target without losing a request.
 *
 * <p><b>The hand-over.</b> Rings are the owner threads' alone, so the reconnector never touches an
 * owned one. Once the new target is connected and its features and config checked, the
 * reconnector asks for a replay; each owner, in its next {@code poll}, takes what the old target
 * completed, puts every request it had taken and not completed back into the avail ring
 * ({@link Virtqueue#prepareReplay()}), records the index the new target starts from, and
 * then holds its ring still (spinning in that poll) until the reconnector has started every queue
 * at those indices, or given the attempt up. Queues no thread owns are prepared by the reconnector
 * itself. The owner then kicks once and goes on: every request is completed exactly once, by the
 * target that finally serves it.
 *
 * <p>While the link is down I/O is accepted and waits in the ring or the queue; it fails once
 * {@code fast_io_fail_timeout_sec} has passed (and new I/O is refused), and for good when the
 * device is given up ({@code ctrlr_loss_timeout_sec}, or a target that came back different).
 */
final class LinkSupervisor {
    private static final Logger LOG = LoggerFactory.getLogger(LinkSupervisor.class);

    /** How long an owner holds its ring still for one restart before it looks again. */
    private static final long HOLD_SLICE_NANOS = 20_000;
    /** How long the reconnector waits for a queue's owner to poll and hand its ring over. */
    private static final long OWNER_PREPARE_NANOS = TimeUnit.SECONDS.toNanos(1);

    /** What a queue's owner does after {@link #ownerStep}. */
    enum Step {
        /** Keep the I/O: the link is down, it waits. */
        WAIT,
        /** Fail every request and queued I/O with {@link #lostMessage()}. */
        FAIL,
        /** The link is back: resume waiting I/O and flush. */
        RESUMED
    }

    /** The device-specific check of a target that came back: throws {@link DeviceException} when it differs. */
    @FunctionalInterface
    interface SameDeviceCheck {
        void check();
    }

    private final VirtioDevice device;
    private final List<LinkListener> listeners = new CopyOnWriteArrayList<>();
    private volatile ReconnectPolicy policy = ReconnectPolicy.NONE;
    private volatile SameDeviceCheck sameDevice = () -> { };

    /** why the link is down; null while it is up. Read by every poll. */
    private volatile String lost;
    private volatile long lostAtNanos;
    private volatile boolean givenUp;
    private volatile String givenUpReason;
    /** the replay being asked for (0: none); owners prepare their queue once per attempt */
    private volatile int replayAttempt;
    private int attempts;
    private AtomicIntegerArray preparedFor = new AtomicIntegerArray(0);
    private AtomicIntegerArray bases = new AtomicIntegerArray(0);
    private Thread reconnector;
    /** every loss the transport reported: a restore that saw one during its work starts over */
    private int lossEvents;
    private volatile boolean closed;

    LinkSupervisor(VirtioDevice device) {
        this.device = device;
    }

    void configure(ReconnectPolicy policy, SameDeviceCheck check) {
        this.policy = policy;
        this.sameDevice = check;
    }

    ReconnectPolicy policy() {
        return policy;
    }

    void addListener(LinkListener l) {
        listeners.add(l);
    }

    void removeListener(LinkListener l) {
        listeners.remove(l);
    }

    /** @return why the link is down, or null */
    String lost() {
        return lost;
    }

    /** @return the error I/O fails with while the link is down */
    String lostMessage() {
        String r = givenUpReason;
        if (r != null) {
            return r;
        }
        String l = lost;
        if (l == null) {
            return null;
        }
        if (!policy.reconnects()) {
            return l;
        }
        return l + "; not back within fast_io_fail_timeout_sec " + policy.fastIoFailTimeoutSec();
    }

    /** @return whether new I/O is refused now: down without a policy, given up, or past fast_io_fail */
    boolean refusesIo() {
        return lost != null && (!policy.reconnects() || givenUp || fastFailDue());
    }

    private boolean fastFailDue() {
        int s = policy.fastIoFailTimeoutSec();
        return s > 0 && System.nanoTime() - lostAtNanos >= TimeUnit.SECONDS.toNanos(s);
    }

    /** The transport lost its peer (its own thread). */
    synchronized void transportLost(String reason) {
        lossEvents++;
        if (lost != null || closed) {
            return;
        }
        lostAtNanos = System.nanoTime();
        lost = reason;
        boolean retry = policy.reconnects();
        LOG.error("{}: {}; {}", device.name(), reason, retry ? "reconnecting (ctrlr_loss_timeout_sec " + policy.ctrlrLossTimeoutSec()
                + ", reconnect_delay_sec " + policy.reconnectDelaySec() + ", fast_io_fail_timeout_sec " + policy.fastIoFailTimeoutSec()
                + ")" : "I/O in flight and queued fails");
        LinkDownEvent.emit(device.name(), reason, retry);
        for (LinkListener l : listeners) {
            l.disconnected(device.name(), reason);
        }
        if (retry && reconnector == null) {
            reconnector = Thread.ofPlatform().daemon().name("jvirtio-reconnect-" + device.name()).start(this::reconnectLoop);
        }
    }

    /**
     * For a queue's owner, from its poll, while {@link #lost()} is not null and after it took every
     * used element. May hold the calling thread for the few milliseconds of a restart.
     */
    Step ownerStep(Virtqueue vq) {
        if (!policy.reconnects() || givenUp) {
            return Step.FAIL;
        }
        int attempt = replayAttempt;
        int i = vq.index();
        if (attempt != 0 && i < preparedFor.length() && preparedFor.get(i) != attempt) {
            bases.set(i, vq.prepareReplay());
            preparedFor.set(i, attempt);
            while (replayAttempt == attempt && lost != null && !closed) {
                LockSupport.parkNanos(HOLD_SLICE_NANOS);
            }
            if (lost == null) {
                vq.kick();
                return Step.RESUMED;
            }
        }
        return fastFailDue() ? Step.FAIL : Step.WAIT;
    }

    private void reconnectLoop() {
        long delay = ReconnectPolicy.FIRST_RETRY.toNanos();
        int tries = 0;
        while (!closed) {
            ReconnectPolicy p = policy;
            long down = System.nanoTime() - lostAtNanos;
            if (p.ctrlrLossTimeoutSec() > 0 && down >= TimeUnit.SECONDS.toNanos(p.ctrlrLossTimeoutSec())) {
                giveUp(lost + "; not back within ctrlr_loss_timeout_sec " + p.ctrlrLossTimeoutSec() + " (" + tries + " attempts)");
                return;
            }
            LockSupport.parkNanos(delay);
            delay = Math.min(delay * 2, TimeUnit.SECONDS.toNanos(p.reconnectDelaySec()));
            tries++;
            try {
                restore();
                long stall = System.nanoTime() - lostAtNanos;
                LOG.info("{}: reconnected after {} ms ({} attempts); I/O resumed", device.name(), TimeUnit.NANOSECONDS.toMillis(stall), tries);
                LinkUpEvent.emit(device.name(), stall, tries, false, null);
                for (LinkListener l : listeners) {
                    l.reconnected(device.name(), stall);
                }
                return;
            } catch (VhostUserException e) {
                if (!e.shouldReconnect()) {
                    giveUp(device.name() + ": the target came back and was refused: " + e.getMessage());
                    return;
                }
                LOG.debug("{}: reconnect attempt {}: {}", device.name(), tries, e.getMessage());
            } catch (TransportUnsupportedException e) {
                giveUp(lost + "; " + e.getMessage());
                return;
            } catch (DeviceException e) {
                giveUp(device.name() + ": the target came back different: " + e.getMessage());
                return;
            } catch (RuntimeException e) {
                LOG.debug("{}: reconnect attempt {} failed", device.name(), tries, e);
            }
        }
    }

    /** One attempt: a new connection, the same device, the rings handed over. */
    private void restore() {
        int lossesBefore;
        synchronized (this) {
            lossesBefore = lossEvents;
        }
        device.backend().reconnect();
        device.renegotiate();
        sameDevice.check();
        int n = device.queueCount();
        synchronized (this) {
            if (preparedFor.length() != n) {
                preparedFor = new AtomicIntegerArray(n);
                bases = new AtomicIntegerArray(n);
            }
        }
        int attempt = ++attempts;
        replayAttempt = attempt;
        try {
            for (int i = 0; i < n; i++) {
                awaitPrepared(i, attempt);
            }
            for (int i = 0; i < n; i++) {
                device.setupQueueAt(i, bases.get(i));
            }
            device.restartQueues();
            synchronized (this) {
                if (lossEvents != lossesBefore) {
                    throw VhostUserException.socketFailure(device.name() + ": the target went away again during the restart", null);
                }
                lost = null; // owners holding their rings see this and go on
                reconnector = null; // a loss from now on starts a new reconnect
            }
        } finally {
            replayAttempt = 0;
        }
    }

    /** Waits for the owner to prepare queue {@code i}, or prepares it here when no thread owns it. */
    private void awaitPrepared(int i, int attempt) {
        long deadline = System.nanoTime() + OWNER_PREPARE_NANOS;
        while (preparedFor.get(i) != attempt) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException(device.name() + ": the thread owning queue " + i + " did not poll within "
                        + TimeUnit.NANOSECONDS.toMillis(OWNER_PREPARE_NANOS) + " ms to hand its ring over; trying again");
            }
            if (closed || lost == null) {
                throw new IllegalStateException(device.name() + ": closed during reconnect");
            }
            Virtqueue vq = device.acquireQueue(i);
            if (vq != null) {
                try {
                    bases.set(i, vq.prepareReplay());
                    preparedFor.set(i, attempt);
                } finally {
                    device.releaseQueue(vq);
                }
                return;
            }
            LockSupport.parkNanos(HOLD_SLICE_NANOS);
        }
    }

    private void giveUp(String reason) {
        synchronized (this) {
            givenUp = true;
            givenUpReason = reason;
            reconnector = null;
        }
        LOG.error("{}: given up: {}", device.name(), reason);
        LinkUpEvent.emit(device.name(), System.nanoTime() - lostAtNanos, 0, true, reason);
        for (LinkListener l : listeners) {
            l.givenUp(device.name(), reason);
        }
    }

    /** @return whether the device was given up */
    boolean givenUp() {
        return givenUp;
    }

    void close() {
        closed = true;
    }
}
