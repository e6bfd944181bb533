package io.jvirtio.backend.ring;

import io.jvirtio.sys.Native;
import io.jvirtio.backend.fault.FaultAwareModel;
import io.jvirtio.backend.fault.FaultInjector;
import io.jvirtio.backend.fault.InjectedError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.concurrent.locks.LockSupport;

/**
 * The thread of one running queue, in one of two {@link QueueMode}s.
 *
 * <p>KICK: waits for the driver's kick, pops every available chain and hands it to the device
 * model, then re-arms notifications and checks once more before sleeping, so a chain made
 * available meanwhile is never missed.
 *
 * <p>POLL: keeps notifications off and spins on the avail index, holding the memory read lock for
 * the whole spin rather than once per look (a look is one acquire load). The lock is let go as soon
 * as a memory-table change waits for it ({@link ReentrantReadWriteLock#hasQueuedThreads}, checked
 * every {@value #SPINS_PER_CHECK} empty looks and after every batch), so SET_MEM_TABLE and
 * ADD/REM_MEM_REG get in within microseconds. After {@code pollIdleNanos} without a chain the thread
 * re-arms notifications and sleeps on the kick like KICK mode, until the next kick; 0 spins for ever
 * (SPDK's behaviour). When several polling threads are pinned to one CPU, each also yields every
 * {@value #SPINS_PER_CHECK} empty looks, so that they take turns instead of waiting for the
 * scheduler's time slice; a thread alone on its CPU never yields (on a loaded core a yield hands the
 * CPU to another process for its whole slice).
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
    /** POLL: empty looks at the avail index between checks of the clock, a waiting memory writer and the scheduler. */
    static final int SPINS_PER_CHECK = 256;
    /** POLL without a kick eventfd (the driver polls too): the nap once idle, as there is nothing to wait on. */
    private static final long NO_KICK_PARK_NANOS = TimeUnit.MICROSECONDS.toNanos(50);
    private static final long IDLE_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(2);

    /** Polling threads pinned to each CPU: one alone on its CPU never yields. */
    private static final AtomicIntegerArray POLLERS_ON_CPU = new AtomicIntegerArray(CpuAffinity.MAX_CPUS);

    private final DeviceQueue queue;
    private final QueueHost host;
    private final int kickFd;
    private final KickWait kick;
    private final QueueMode mode;
    private final long pollIdleNanos;
    private final int cpu;
    private final String name;
    private volatile boolean running = true;
    private volatile boolean enabled;
    private Thread thread;
    private boolean warnedNoFaultSupport;

    /**
     * @param queue         the queue
     * @param host          the connection
     * @param kickFd        the kick eventfd (owned by the caller), or -1 when the driver does not kick (then POLL)
     * @param mode          how to learn of new chains
     * @param pollIdleNanos POLL: idle time before re-arming the kick and sleeping; 0 never sleeps
     * @param cpu           the CPU to pin the thread to, or -1
     * @param enabled       whether the ring starts enabled
     */
    public QueueWorker(DeviceQueue queue, QueueHost host, int kickFd, QueueMode mode, long pollIdleNanos, int cpu, boolean enabled) {
        this.queue = queue;
        this.host = host;
        this.kickFd = kickFd;
        this.kick = kickFd < 0 ? null : new KickWait(kickFd);
        this.mode = kickFd < 0 ? QueueMode.POLL : mode;
        this.pollIdleNanos = pollIdleNanos;
        this.cpu = cpu;
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

    /** @return the mode the thread runs in */
    public QueueMode mode() {
        return mode;
    }

    /** @return the thread's id once started (allocation accounting in tests), or -1 */
    public long threadId() {
        Thread t = thread;
        return t == null ? -1 : t.threadId();
    }

    /** Enables or disables the ring (SET_VRING_ENABLE); a disabled ring is not processed. */
    public void setEnabled(boolean on) {
        enabled = on;
        wake();
    }

    /** Wakes the thread: a spurious kick on the kick eventfd (harmless by the spec), or an unpark. */
    public void wake() {
        Thread t = thread;
        if (kickFd >= 0) {
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
        if (cpu >= 0) {
            try {
                CpuAffinity.pinCurrentThread(cpu);
            } catch (RuntimeException e) {
                LOG.error("{}: cannot pin to CPU {}, running unpinned: {}", name, cpu, e.getMessage());
            }
        }
        LOG.debug("{}: started ({} mode{})", name, mode, cpu >= 0 ? ", CPU " + cpu : "");
        boolean counted = mode == QueueMode.POLL && cpu >= 0;
        if (counted) {
            POLLERS_ON_CPU.incrementAndGet(cpu);
        }
        try {
            while (running) {
                if (!workable()) {
                    idle();
                    continue;
                }
                if (mode == QueueMode.POLL) {
                    if (spin()) {
                        sleepUntilKick();
                    }
                } else {
                    processAvailable();
                    if (running) {
                        waitForKick();
                    }
                }
            }
        } catch (DriverRingException e) {
            running = false;
            host.abortConnection(queue.index(), e.getMessage(), true);
        } catch (RuntimeException | Error e) {
            running = false;
            LOG.error("{}: queue thread failed", name, e);
            host.abortConnection(queue.index(), name + ": queue thread failed: " + e, false);
        } finally {
            if (counted) {
                POLLERS_ON_CPU.decrementAndGet(cpu);
            }
        }
        LOG.debug("{}: stopped", name);
    }

    private boolean workable() {
        return running && enabled && !host.faults().isStalled(queue.index());
    }

    private void idle() {
        if (kickFd >= 0) {
            // drain kicks that arrive meanwhile so the wait below does not spin
            kick.await(2);
        } else {
            LockSupport.parkNanos(IDLE_PARK_NANOS);
        }
    }

    // ------------------------------------------------------------------ KICK

    private void processAvailable() {
        Lock lock = host.memoryLock().readLock();
        lock.lock();
        try {
            do {
                queue.disableNotification();
                drain();
                queue.enableNotification();
            } while (workable() && queue.hasAvailable());
        } finally {
            lock.unlock();
        }
    }

    /** Pops and dispatches every available chain, signalling at most {@value #SIGNAL_EVERY} apart; caller holds the read lock. */
    private int drain() {
        int popped = 0;
        queue.beginBatch();
        try {
            int sinceSignal = 0;
            QueueRequest req;
            while (workable() && (req = queue.pop()) != null) {
                dispatch(req);
                popped++;
                if (++sinceSignal == SIGNAL_EVERY) {
                    queue.endBatch();
                    queue.beginBatch();
                    sinceSignal = 0;
                }
            }
        } finally {
            queue.endBatch();
        }
        return popped;
    }

    private void waitForKick() {
        kick.await(KICK_POLL_MILLIS);
    }

    // ------------------------------------------------------------------ POLL

    /**
     * Spins under one hold of the read lock until the queue has been idle for the idle time, a
     * memory writer waits, or the ring stops being workable.
     *
     * @return whether the thread should re-arm the kick and sleep (idle for long enough)
     */
    private boolean spin() {
        ReadWriteLock rw = host.memoryLock();
        Lock lock = rw.readLock();
        ReentrantReadWriteLock waitable = rw instanceof ReentrantReadWriteLock r ? r : null;
        lock.lock();
        try {
            queue.disableNotification();
            long lastWork = System.nanoTime();
            int empty = 0;
            while (workable()) {
                if (queue.hasAvailable()) {
                    drain();
                    empty = 0;
                    lastWork = System.nanoTime();
                    if (waitable == null || waitable.hasQueuedThreads()) {
                        return false; // let the memory writer in, then spin again
                    }
                    continue;
                }
                if (++empty < SPINS_PER_CHECK) {
                    Thread.onSpinWait();
                    continue;
                }
                empty = 0;
                if (waitable == null || waitable.hasQueuedThreads()) {
                    return false;
                }
                if (pollIdleNanos > 0 && System.nanoTime() - lastWork >= pollIdleNanos) {
                    return true;
                }
                if (cpu >= 0 && POLLERS_ON_CPU.get(cpu) > 1) {
                    Thread.yield();
                }
            }
            return false;
        } finally {
            lock.unlock();
        }
    }

    /** Re-arms notifications, checks once more (the lost wake-up race), and sleeps until a kick. */
    private void sleepUntilKick() {
        if (kickFd < 0) {
            LockSupport.parkNanos(NO_KICK_PARK_NANOS);
            return;
        }
        Lock lock = host.memoryLock().readLock();
        lock.lock();
        boolean pending;
        try {
            queue.enableNotification();
            pending = queue.hasAvailable();
        } finally {
            lock.unlock();
        }
        if (!pending && workable()) {
            waitForKick();
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
}
