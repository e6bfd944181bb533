package io.jvirtio.backend.ring;

import io.jvirtio.sys.Native;
import io.jvirtio.backend.fault.FaultAwareModel;
import io.jvirtio.backend.fault.FaultInjector;
import io.jvirtio.backend.fault.InjectedError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;

/**
 * The thread of one running queue: waits for the driver's kick (or polls), pops every available
 * chain and hands it to the device model, then re-arms notifications and checks once more before
 * sleeping, so a chain made available meanwhile is never missed.
 *
 * <p>Fault hooks sit here: a stalled queue pops nothing, an injected drop ends the connection
 * before the request is executed, an injected failure goes to the model's
 * {@link FaultAwareModel#failRequest}.
 */
public final class QueueWorker implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(QueueWorker.class);

    /** How long one wait for a kick lasts before the thread re-checks its state. */
    private static final int KICK_POLL_MILLIS = 500;
    /** Completions signalled at most this many pops apart within one batch, so a long batch does not hold back interrupts. */
    private static final int SIGNAL_EVERY = 32;
    /** Polling mode: spins before parking briefly. */
    private static final int POLL_SPINS = 200;
    private static final long POLL_PARK_NANOS = TimeUnit.MICROSECONDS.toNanos(50);
    private static final long IDLE_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(2);

    private final DeviceQueue queue;
    private final QueueHost host;
    private final int kickFd;
    private final boolean polling;
    private final String name;
    private volatile boolean running = true;
    private volatile boolean enabled;
    private Thread thread;
    private boolean warnedNoFaultSupport;

    /**
     * @param queue   the queue
     * @param host    the connection
     * @param kickFd  the kick eventfd (owned by the caller), or -1 to poll
     * @param polling whether to poll the avail ring instead of waiting for kicks
     * @param enabled whether the ring starts enabled
     */
    public QueueWorker(DeviceQueue queue, QueueHost host, int kickFd, boolean polling, boolean enabled) {
        this.queue = queue;
        this.host = host;
        this.kickFd = kickFd;
        this.polling = polling || kickFd < 0;
        this.enabled = enabled;
        this.name = host.name() + " queue " + queue.index();
    }

    /** Starts the thread. */
    public void start() {
        thread = Thread.ofPlatform().daemon().name("jvirtio-target-" + host.name() + "-q" + queue.index()).start(this);
    }

    /** @return the queue */
    public DeviceQueue queue() {
        return queue;
    }

    /** Enables or disables the ring (SET_VRING_ENABLE); a disabled ring is not processed. */
    public void setEnabled(boolean on) {
        enabled = on;
        wake();
    }

    /** Wakes the thread: a spurious kick on the kick eventfd (harmless by the spec), or an unpark. */
    public void wake() {
        Thread t = thread;
        if (kickFd >= 0 && !polling) {
            try {
                Native.eventfdWrite(kickFd, 1);
            } catch (RuntimeException e) {
                LOG.debug("{}: self-kick: {}", name, e.getMessage());
            }
        }
        if (t != null) {
            LockSupport.unpark(t);
        }
    }

    /**
     * Stops the thread and waits for it; the queue's batch in progress finishes first. Safe to call
     * from the queue thread itself (it then just flags the stop).
     */
    public void stopAndJoin() {
        running = false;
        Thread t = thread;
        if (t == null || t == Thread.currentThread()) {
            return;
        }
        wake();
        try {
            t.join(TimeUnit.SECONDS.toMillis(10));
            if (t.isAlive()) {
                LOG.error("{}: queue thread did not stop within 10 s (a device model blocked in handle?)", name);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void run() {
        LOG.debug("{}: started ({} mode)", name, polling ? "polling" : "kick");
        try {
            while (running) {
                FaultInjector faults = host.faults();
                if (!enabled || faults.isStalled(queue.index())) {
                    idle();
                    continue;
                }
                processAvailable();
                if (running) {
                    waitForWork();
                }
            }
        } catch (DriverRingException e) {
            running = false;
            host.abortConnection(queue.index(), e.getMessage(), true);
        } catch (RuntimeException | Error e) {
            running = false;
            LOG.error("{}: queue thread failed", name, e);
            host.abortConnection(queue.index(), name + ": queue thread failed: " + e, false);
        }
        LOG.debug("{}: stopped", name);
    }

    private void idle() {
        if (!polling) {
            // drain kicks that arrive meanwhile so the wait below does not spin
            if (Native.pollIn(kickFd, 2)) {
                Native.eventfdRead(kickFd);
            }
        } else {
            LockSupport.parkNanos(IDLE_PARK_NANOS);
        }
    }

    private void processAvailable() {
        Lock lock = host.memoryLock().readLock();
        lock.lock();
        try {
            queue.beginBatch();
            try {
                int sinceSignal = 0;
                do {
                    queue.disableNotification();
                    QueueRequest req;
                    while (running && !host.faults().isStalled(queue.index()) && (req = queue.pop()) != null) {
                        dispatch(req);
                        if (++sinceSignal == SIGNAL_EVERY) {
                            queue.endBatch();
                            queue.beginBatch();
                            sinceSignal = 0;
                        }
                    }
                    queue.enableNotification();
                } while (running && !host.faults().isStalled(queue.index()) && queue.hasAvailable());
            } finally {
                queue.endBatch();
            }
        } finally {
            lock.unlock();
        }
    }

    private void dispatch(QueueRequest req) {
        FaultInjector faults = host.faults();
        if (faults.shouldDropBeforeRequest()) {
            running = false;
            host.abortConnection(queue.index(), "fault injection: connection dropped before " + req, false);
            return;
        }
        InjectedError error = faults.takeFailure();
        if (error != null) {
            if (host.model() instanceof FaultAwareModel fam && fam.failRequest(req, error)) {
                LOG.debug("{}: {} failed on purpose ({})", name, req, error.description());
                return;
            }
            faults.returnFailure();
            if (!(host.model() instanceof FaultAwareModel) && !warnedNoFaultSupport) {
                warnedNoFaultSupport = true;
                LOG.warn("{}: device model {} cannot fail requests on purpose (no FaultAwareModel); injected failures ignored", name,
                        host.model().name());
            }
        }
        try {
            host.model().handle(req);
        } catch (RuntimeException e) {
            LOG.error("{}: device model failed on {}; completing it with nothing written", name, req, e);
            queue.complete(req, 0);
        }
    }

    private void waitForWork() {
        if (!polling) {
            if (Native.pollIn(kickFd, KICK_POLL_MILLIS)) {
                Native.eventfdRead(kickFd);
            }
            return;
        }
        Lock lock = host.memoryLock().readLock();
        for (int i = 0; i < POLL_SPINS && running; i++) {
            lock.lock();
            try {
                if (queue.hasAvailable()) {
                    return;
                }
            } finally {
                lock.unlock();
            }
            Thread.onSpinWait();
        }
        LockSupport.parkNanos(POLL_PARK_NANOS);
    }
}
