package io.jvirtio.bdev.driver;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.bdev.IoCallback;
import io.jvirtio.bdev.jfr.IoErrorEvent;
import io.jvirtio.bdev.IoType;
import io.jvirtio.spec.VirtioException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The life cycle of one request queue, the same for every driver: a pool of device requests, the
 * FIFO of caller I/Os waiting for them, and the steps that turn a caller I/O into requests and back
 * into a completion. The driver supplies SPDK's {@code submit_request} step, {@link #submit}: "this
 * part of the I/O becomes this request's descriptors"; its completion handler decides what the
 * device's status means (setting {@link DriverIo#error}) and hands the request to
 * {@link #requestDone}.
 *
 * <p>Several channels may share one queue (virtio-scsi: every LUN channel of a thread): each I/O
 * goes back to its own {@link IoSlots}. A {@link IoType#RESET} I/O without requests is a barrier:
 * it completes once every request submitted before it is back, as SPDK resets a device that has no
 * reset command. Only the owning thread calls in; nothing allocates per I/O.
 *
 * @param <I> the driver's I/O context
 * @param <R> the driver's request
 */
public abstract class DriverRequestQueue<I extends DriverIo, R extends DriverRequest<I>> {
    private static final Logger LOG = LoggerFactory.getLogger(DriverRequestQueue.class);

    private final R[] requests;
    private final int[] freeRequests;
    private int freeTop;
    private int outstanding;
    private final PendingFifo<I> pending;
    private int completed;

    /**
     * @param requests        the queue's requests, {@code requests[i].slot == i}
     * @param pendingCapacity the most I/Os that can wait (the depth of the channels on the queue)
     */
    protected DriverRequestQueue(R[] requests, int pendingCapacity) {
        this.requests = requests;
        this.freeRequests = new int[requests.length];
        for (int i = 0; i < requests.length; i++) {
            freeRequests[i] = requests.length - 1 - i;
        }
        freeTop = requests.length;
        this.pending = new PendingFifo<>(pendingCapacity);
    }

    /**
     * Builds the next request of {@code io} in {@code request} and puts it on the ring, moving the
     * I/O's {@link DriverIo#remaining} and iovec position past what it carries.
     *
     * @return false when the ring has no room for it now (nothing was changed)
     * @throws VirtioException when the request cannot be built: the I/O fails with it
     */
    protected abstract boolean submit(I io, R request);

    /**
     * Checked before each request of {@code io} is built: a reason the I/O must end now, though its
     * arguments were good when it started (virtio-scsi: the LUN was hot-removed meanwhile).
     *
     * @return the error {@code io} ends with, as it is (not wrapped); null to go on
     */
    protected VirtioException refusal(I io) {
        return null;
    }

    /**
     * Runs after an I/O's callback returned; {@code io} is back in its pool (only its channel's own
     * fields are still meaningful). For a driver that reports a drained channel (virtio-scsi: a
     * removed LUN's channel tells its disk when its last I/O is done).
     */
    protected void afterCompletion(I io) {
    }

    /** Starts a caller I/O: submits what fits, queues the rest behind anything already waiting. */
    public final void start(I io) {
        if (pending.size() > 0 || !advance(io)) {
            pending.enqueue(io);
        }
    }

    /**
     * Queues a caller I/O without trying it now: it is resumed by the next {@link #drainPending}, in
     * order. For an I/O whose callback must not run within the submitting call (a reset barrier).
     */
    public final void defer(I io) {
        pending.enqueue(io);
    }

    /**
     * Submits as many requests of {@code io} as the ring and the pool take.
     *
     * @return true when nothing of {@code io} is left to submit (it may still be in flight)
     */
    private boolean advance(I io) {
        if (io.op == IoType.RESET && io.remaining == 0) {
            if (outstanding > 0) {
                return false;
            }
            complete(io);
            return true;
        }
        while (io.remaining > 0) {
            if (io.error != null) {
                io.remaining = 0; // a failed request ends the I/O: submit no more of it
                break;
            }
            VirtioException refused = refusal(io);
            if (refused != null) {
                io.error = refused;
                io.remaining = 0;
                break;
            }
            if (freeTop == 0) {
                return false;
            }
            R request = requests[freeRequests[freeTop - 1]];
            boolean started;
            try {
                started = submit(io, request);
            } catch (VirtioException e) {
                io.error = failure(io, e);
                io.remaining = 0;
                break;
            }
            if (!started) {
                return false;
            }
            freeTop--;
            outstanding++;
            request.io = io;
            io.requestsInFlight++;
        }
        if (io.requestsInFlight == 0) {
            complete(io);
        }
        return true;
    }

    /** @return whether I/Os wait for ring space */
    public final boolean hasPending() {
        return pending.size() > 0;
    }

    /** Resumes waiting I/Os in order, as far as the ring takes them. */
    public final void drainPending() {
        while (pending.size() > 0) {
            // dequeue before advancing: completing the I/O may run a callback that reuses it
            I io = pending.dequeue();
            if (!advance(io)) {
                pending.pushFront(io);
                break;
            }
        }
    }

    /**
     * A request came back (the driver already recorded any error in its I/O): the request is free
     * again, and the I/O completes when it was its last.
     */
    public final void requestDone(R request) {
        I io = request.io;
        freeRequest(request);
        if (io == null) {
            return; // orphaned: its I/O was failed already
        }
        io.requestsInFlight--;
        if (io.requestsInFlight == 0 && !io.queued && (io.remaining == 0 || io.error != null)) {
            io.remaining = 0;
            complete(io);
        }
    }

    /**
     * Takes a free request for the driver's own use (a scan command, not part of a caller I/O); it
     * counts as outstanding until it goes back through {@link #requestDone}.
     *
     * @return the request, or null when every one is in use
     */
    protected final R takeRequest() {
        if (freeTop == 0) {
            return null;
        }
        outstanding++;
        return requests[freeRequests[--freeTop]];
    }

    private void freeRequest(R request) {
        request.clear();
        freeRequests[freeTop++] = request.slot;
        outstanding--;
    }

    /** Completes {@code io}: its slot goes back to its channel, then its callback runs. */
    public final void complete(I io) {
        IoCallback cb = io.callback;
        Object ctx = io.context;
        VirtioException err = io.error;
        IoSlots<?> slots = io.slots;
        long now = count(io, err, slots);
        io.clear();
        slots.give(io);
        completed++;
        if (cb != null) {
            IoCounters counters = slots.counters();
            long outer = counters.callbackClock;
            counters.callbackClock = now; // an I/O the callback submits here starts now: no second clock read
            try {
                cb.onComplete(ctx, err);
            } catch (RuntimeException e) {
                LOG.error("bdev {}: I/O completion callback threw", slots.bdevName(), e);
            } finally {
                counters.callbackClock = outer;
            }
        }
        afterCompletion(io);
    }

    /**
     * Counts the finished I/O in its channel's statistics; an error also goes to JFR (rare path).
     *
     * @return the clock reading its latency ended at; 0 for an uncounted I/O
     */
    private long count(I io, VirtioException err, IoSlots<?> slots) {
        if (io.bytes == DriverIo.UNCOUNTED) {
            return 0;
        }
        long now = System.nanoTime();
        if (err == null) {
            slots.counters().success(io.op, io.bytes, now - io.startTicks);
            return now;
        }
        Reason reason = BdevIoException.reasonOf(err, Reason.QUEUE_BROKEN);
        slots.counters().error(reason);
        IoErrorEvent.emit(slots.bdevName(), queueName(), io.opName(), io.offset, reason, err);
        return now;
    }

    /** @return the name of the ring this queue drives, for error events ({@code VirtioBlk0-rq0}) */
    protected String queueName() {
        return "";
    }

    /** Fails every waiting I/O with {@code error} (the device is gone; the driver fails the ring's requests itself). */
    public final void failPending(VirtioException error) {
        while (pending.size() > 0) {
            I io = pending.dequeue();
            failWaiting(io, error);
        }
    }

    /**
     * Fails the I/Os of one channel from the queue's own records, leaving the ring as it is: the
     * requests the device still holds become orphans, freed when it completes them.
     */
    public final void abandon(IoSlots<?> channel, VirtioException error) {
        for (R request : requests) {
            I io = request.io;
            if (io == null || io.slots != channel) {
                continue;
            }
            request.orphan = true;
            request.io = null;
            io.requestsInFlight--;
            if (io.error == null) {
                io.error = failure(io, error);
            }
            io.remaining = 0;
            if (io.requestsInFlight == 0 && !io.queued) {
                complete(io);
            }
        }
        for (int n = pending.size(); n > 0; n--) {
            I io = pending.dequeue();
            if (io.slots != channel) {
                pending.enqueue(io);
            } else {
                failWaiting(io, error);
            }
        }
    }

    private void failWaiting(I io, VirtioException error) {
        io.remaining = 0;
        if (io.error == null) {
            io.error = failure(io, error);
        }
        if (io.requestsInFlight == 0) {
            complete(io);
        }
    }

    /** @return the error an I/O ends with when {@code cause} stopped it, keeping the cause's reason */
    public final BdevIoException failure(DriverIo io, VirtioException cause) {
        return new BdevIoException(BdevIoException.reasonOf(cause, Reason.QUEUE_BROKEN), "bdev " + io.slots.bdevName() + ": "
                + io.opName() + " at offset " + io.offset + " failed: " + cause.getMessage(), cause);
    }

    /** Makes room in the FIFO for {@code extra} more waiting I/Os (setup time: a channel joined). */
    protected final void growPending(int extra) {
        pending.grow(extra);
    }

    /** @return requests the device holds (or the driver holds for a retry), orphans included */
    public final int outstanding() {
        return outstanding;
    }

    /** @return caller I/Os completed since the queue was made: a poll returns the difference */
    public final int completed() {
        return completed;
    }
}
