package io.jvirtio.backend.fault;

import io.jvirtio.spec.vhostuser.VhostUserRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Makes one device of the Java target misbehave on purpose, so that tests can see how an
 * initiator copes: failed requests, slow completions, a stalled queue, a connection that drops,
 * malicious used-ring writes, bad replies to vhost-user messages.
 *
 * <p>Every fault is armed by a test and consumed by the device's threads; the injector outlives
 * connections (a fault armed before a front-end connects applies to it). Thread-safe.
 *
 * <p>The {@code take...}/{@code should...} methods are the transport's side; tests call the others.
 */
public final class FaultInjector {
    private static final Logger LOG = LoggerFactory.getLogger(FaultInjector.class);

    /** Queue index meaning "whichever queue completes a request first". */
    public static final int ANY_QUEUE = -1;

    private final String device;
    private final AtomicInteger failRemaining = new AtomicInteger();
    private volatile InjectedError failError = InjectedError.ioError();
    private volatile long delayNanos;
    private final Set<Integer> stalled = ConcurrentHashMap.newKeySet();
    private final AtomicInteger dropAfter = new AtomicInteger(-1);
    private final Map<Integer, UsedRingFault> usedFaults = new ConcurrentHashMap<>();
    private final Map<VhostUserRequest, ReplyFault> replyFaults = new ConcurrentHashMap<>();
    private final AtomicLong injected = new AtomicLong();

    /** @param device the device name, for logs */
    public FaultInjector(String device) {
        this.device = device;
    }

    /** Fails the next {@code n} requests (on any queue) with a plain I/O error. */
    public FaultInjector failNextRequests(int n) {
        return failNextRequests(n, InjectedError.ioError());
    }

    /**
     * Fails the next {@code n} requests (on any queue) with {@code error}, as the device model maps it
     * (virtio-blk: VIRTIO_BLK_S_IOERR).
     */
    public FaultInjector failNextRequests(int n, InjectedError error) {
        if (n < 0) {
            throw new IllegalArgumentException("request count " + n + " is negative");
        }
        failError = Objects.requireNonNull(error, "error");
        failRemaining.set(n);
        LOG.info("{}: fault armed: fail the next {} request(s) with {}", device, n, error.description());
        return this;
    }

    /** @return how many requests are still to fail */
    public int pendingFailures() {
        return failRemaining.get();
    }

    /**
     * Delays every completion by {@code delay} (the request is executed at once, its used element
     * published later). {@link Duration#ZERO} turns it off.
     */
    public FaultInjector delayCompletions(Duration delay) {
        if (delay.isNegative()) {
            throw new IllegalArgumentException("delay " + delay + " is negative");
        }
        delayNanos = delay.toNanos();
        LOG.info("{}: fault armed: completions delayed by {} ms", device, delay.toMillis());
        return this;
    }

    /** @return the completion delay in nanoseconds, 0 for none */
    public long completionDelayNanos() {
        return delayNanos;
    }

    /** Stops popping requests from queue {@code queue} until {@link #resumeQueue}: the driver's requests sit in the avail ring. */
    public FaultInjector stallQueue(int queue) {
        stalled.add(queue);
        LOG.info("{}: fault armed: queue {} stalled", device, queue);
        return this;
    }

    /** Lets a stalled queue run again. */
    public FaultInjector resumeQueue(int queue) {
        stalled.remove(queue);
        LOG.info("{}: queue {} resumed", device, queue);
        return this;
    }

    /** @return whether {@code queue} is stalled */
    public boolean isStalled(int queue) {
        return !stalled.isEmpty() && stalled.contains(queue);
    }

    /**
     * Drops the connection to the front-end once {@code requests} more requests have been handed to
     * the device: the next one after them closes the socket instead of being executed. The device
     * accepts a new connection afterwards.
     */
    public FaultInjector dropConnectionAfter(int requests) {
        if (requests < 0) {
            throw new IllegalArgumentException("request count " + requests + " is negative");
        }
        dropAfter.set(requests);
        LOG.info("{}: fault armed: drop the connection after {} request(s)", device, requests);
        return this;
    }

    /**
     * Makes the next completion on {@code queue} (or {@link #ANY_QUEUE}) write a malicious used element.
     */
    public FaultInjector corruptNextUsed(int queue, UsedRingFault fault) {
        usedFaults.put(queue, Objects.requireNonNull(fault, "fault"));
        LOG.info("{}: fault armed: next used element of queue {} is {}", device, queue == ANY_QUEUE ? "any" : queue, fault);
        return this;
    }

    /** Answers the next {@code request} wrongly, as {@code fault} says. */
    public FaultInjector badReply(VhostUserRequest request, ReplyFault fault) {
        replyFaults.put(Objects.requireNonNull(request, "request"), Objects.requireNonNull(fault, "fault"));
        LOG.info("{}: fault armed: next reply to {} is {}", device, request, fault);
        return this;
    }

    /** Disarms every fault. */
    public void clear() {
        failRemaining.set(0);
        delayNanos = 0;
        stalled.clear();
        dropAfter.set(-1);
        usedFaults.clear();
        replyFaults.clear();
    }

    /** @return how many faults were injected so far */
    public long injectedCount() {
        return injected.get();
    }

    // ------------------------------------------------------------------ transport side

    /** @return the error to fail the current request with, or null; consumes one armed failure */
    public InjectedError takeFailure() {
        while (true) {
            int n = failRemaining.get();
            if (n <= 0) {
                return null;
            }
            if (failRemaining.compareAndSet(n, n - 1)) {
                injected.incrementAndGet();
                return failError;
            }
        }
    }

    /** Gives back a failure the model declined (the request could not fail). */
    public void returnFailure() {
        failRemaining.incrementAndGet();
        injected.decrementAndGet();
    }

    /** Counts one request handed to the device; @return true when the connection must drop instead */
    public boolean shouldDropBeforeRequest() {
        while (true) {
            int n = dropAfter.get();
            if (n < 0) {
                return false;
            }
            if (n == 0) {
                if (dropAfter.compareAndSet(0, -1)) {
                    injected.incrementAndGet();
                    return true;
                }
                continue;
            }
            if (dropAfter.compareAndSet(n, n - 1)) {
                return false;
            }
        }
    }

    /** @return the malicious write for this completion on {@code queue}, or null; consumes it */
    public UsedRingFault takeUsedFault(int queue) {
        if (usedFaults.isEmpty()) {
            return null;
        }
        UsedRingFault f = usedFaults.remove(queue);
        if (f == null) {
            f = usedFaults.remove(ANY_QUEUE);
        }
        if (f != null) {
            injected.incrementAndGet();
        }
        return f;
    }

    /** @return how to spoil the reply to {@code request}, or null; consumes it */
    public ReplyFault takeReplyFault(VhostUserRequest request) {
        if (replyFaults.isEmpty() || request == null) {
            return null;
        }
        ReplyFault f = replyFaults.remove(request);
        if (f != null) {
            injected.incrementAndGet();
        }
        return f;
    }
}
