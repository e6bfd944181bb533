package io.jvirtio.bdev.async;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.CompletionMode;
import io.jvirtio.bdev.IoChannel;
import io.jvirtio.spec.VirtioException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A bdev for many threads: I/O calls that return a {@link CompletableFuture}, and blocking ones meant for
 * virtual threads — a virtual thread that calls {@link #read} parks (it does not pin its carrier) until the
 * poller completes its I/O. One platform thread, the poller, owns one {@link IoChannel} of the bdev (one
 * request queue): it takes requests from a lock-free queue, submits them, polls the ring and completes the
 * callers; when nothing is in flight it parks until a caller hands it work.
 *
 * <p>While I/O is in flight the poller waits as the given {@link CompletionMode} says: polling (the
 * default: the lowest latency, a core spent while busy) or sleeping on the queue's completion fd
 * (interrupt, adaptive), in which case a request handed over meanwhile waits at most
 * {@link #HANDOVER_WAIT_NANOS} for the poller to look.
 *
 * <p>Cost per I/O over the callback path: one request object and, for the future calls, one
 * {@code CompletableFuture}; a queue node; an unpark of the poller when it was parked, and of the caller
 * for a blocking call (see docs/decisions.md, "An async API on top", for the figures). Buffers must come
 * from {@link Bdev#allocateBuffer} as for every jvirtio I/O, and stay untouched until the I/O completes.
 */
public final class AsyncBdev implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AsyncBdev.class);
    /** In a sleeping mode, the longest the poller sleeps on the completion fd before looking for new requests. */
    public static final long HANDOVER_WAIT_NANOS = TimeUnit.MICROSECONDS.toNanos(200);
    /** How long the poller spins for new requests once idle, before it parks. */
    private static final long IDLE_SPIN_NANOS = TimeUnit.MICROSECONDS.toNanos(50);

    private final Bdev bdev;
    private final CompletionMode mode;
    private final ConcurrentLinkedQueue<AsyncRequest> incoming = new ConcurrentLinkedQueue<>();
    private final Thread poller;
    private final CountDownLatch opened = new CountDownLatch(1);
    private volatile boolean parked;
    private volatile boolean closing;
    private volatile RuntimeException openFailure;
    /** set once the poller stopped taking requests: later calls fail at once */
    private volatile VirtioException closedError;

    private AsyncBdev(Bdev bdev, CompletionMode mode) {
        this.bdev = bdev;
        this.mode = mode;
        this.poller = Thread.ofPlatform().daemon().name("jvirtio-async-" + bdev.name()).unstarted(this::run);
    }

    /**
     * Opens a channel of {@code bdev} on a new poller thread, polling.
     *
     * @throws BdevIoException if no channel can be opened (every request queue taken, the device gone)
     */
    public static AsyncBdev open(Bdev bdev) {
        return open(bdev, CompletionMode.polling());
    }

    /**
     * @param mode how the poller waits while I/O is in flight
     * @throws BdevIoException if no channel can be opened
     * @throws UnsupportedOperationException if the mode sleeps and the bdev's transport has no completion fd
     */
    public static AsyncBdev open(Bdev bdev, CompletionMode mode) {
        AsyncBdev a = new AsyncBdev(bdev, mode);
        a.poller.start();
        try {
            a.opened.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            a.close();
            throw new BdevIoException(BdevIoException.Reason.CLOSED, "bdev " + bdev.name() + ": interrupted while its async channel opened");
        }
        if (a.openFailure != null) {
            throw a.openFailure;
        }
        return a;
    }

    /** @return the bdev */
    public Bdev bdev() {
        return bdev;
    }

    // ---------------------------------------------------------------- futures

    /** Reads {@code buffer.byteSize()} bytes at {@code offset}; the future fails with the I/O's {@link VirtioException}. */
    public CompletableFuture<Void> readAsync(MemorySegment buffer, long offset) {
        return hand(new AsyncRequest(AsyncRequest.Op.READ, buffer, offset, buffer.byteSize(), new CompletableFuture<>(), null));
    }

    /** Writes {@code buffer} at {@code offset}. */
    public CompletableFuture<Void> writeAsync(MemorySegment buffer, long offset) {
        return hand(new AsyncRequest(AsyncRequest.Op.WRITE, buffer, offset, buffer.byteSize(), new CompletableFuture<>(), null));
    }

    /** Flushes the device's volatile cache. */
    public CompletableFuture<Void> flushAsync() {
        return hand(new AsyncRequest(AsyncRequest.Op.FLUSH, null, 0, 0, new CompletableFuture<>(), null));
    }

    /** Unmaps (discards) {@code length} bytes at {@code offset}. */
    public CompletableFuture<Void> unmapAsync(long offset, long length) {
        return hand(new AsyncRequest(AsyncRequest.Op.UNMAP, null, offset, length, new CompletableFuture<>(), null));
    }

    private CompletableFuture<Void> hand(AsyncRequest r) {
        VirtioException closed = closedError;
        if (closed != null) {
            r.future.completeExceptionally(closed);
            return r.future;
        }
        handOver(r);
        return r.future;
    }

    // ---------------------------------------------------------------- blocking, for virtual threads

    /**
     * Reads and waits; a virtual thread parks meanwhile without pinning its carrier.
     *
     * @throws VirtioException the I/O's error (a {@link BdevIoException} naming the bdev and offset)
     */
    public void read(MemorySegment buffer, long offset) {
        await(new AsyncRequest(AsyncRequest.Op.READ, buffer, offset, buffer.byteSize(), null, Thread.currentThread()));
    }

    /** Writes and waits. */
    public void write(MemorySegment buffer, long offset) {
        await(new AsyncRequest(AsyncRequest.Op.WRITE, buffer, offset, buffer.byteSize(), null, Thread.currentThread()));
    }

    /** Flushes and waits. */
    public void flush() {
        await(new AsyncRequest(AsyncRequest.Op.FLUSH, null, 0, 0, null, Thread.currentThread()));
    }

    private void await(AsyncRequest r) {
        VirtioException closed = closedError;
        if (closed != null) {
            throw closed;
        }
        handOver(r);
        while (!r.isDone()) {
            LockSupport.park(this);
        }
        if (r.error() != null) {
            throw r.error();
        }
    }

    private void handOver(AsyncRequest r) {
        incoming.offer(r);
        if (parked) {
            LockSupport.unpark(poller);
        }
        VirtioException closed = closedError;
        if (closed != null) {
            failAll(incoming, closed); // the poller stopped between our check and the offer: nobody else will
        }
    }

    // ---------------------------------------------------------------- the poller

    private void run() {
        IoChannel ch;
        try {
            ch = bdev.openChannel();
            if (mode.sleeps()) {
                ch.setCompletionMode(mode);
            }
        } catch (RuntimeException e) {
            openFailure = e;
            closedError = new BdevIoException(BdevIoException.Reason.CLOSED, "bdev " + bdev.name() + ": async channel did not open: " + e.getMessage());
            opened.countDown();
            return;
        }
        opened.countDown();
        ArrayDeque<AsyncRequest> waiting = new ArrayDeque<>();
        try {
            long idleSince = System.nanoTime();
            while (!closing || !waiting.isEmpty() || !incoming.isEmpty() || ch.inFlight() > 0) {
                boolean worked = take(ch, waiting);
                if (ch.inFlight() > 0) {
                    int n = mode.sleeps() ? ch.waitForCompletions(HANDOVER_WAIT_NANOS) : ch.poll();
                    worked |= n > 0;
                }
                if (worked || ch.inFlight() > 0) {
                    idleSince = System.nanoTime();
                } else if (System.nanoTime() - idleSince > IDLE_SPIN_NANOS && waiting.isEmpty()) {
                    parked = true;
                    if (incoming.isEmpty() && !closing) {
                        LockSupport.park(this);
                    }
                    parked = false;
                    idleSince = System.nanoTime();
                } else {
                    Thread.onSpinWait();
                }
                if (closing && ch.inFlight() == 0 && !waiting.isEmpty() && !take(ch, waiting)) {
                    break; // the channel refuses what is left (the device is gone): failed below
                }
            }
        } catch (RuntimeException | Error e) {
            LOG.error("bdev {}: async poller failed", bdev.name(), e);
        } finally {
            VirtioException gone = new BdevIoException(BdevIoException.Reason.CLOSED, "bdev " + bdev.name() + ": its async channel was closed");
            closedError = gone;
            failAll(waiting, gone);
            failAll(incoming, gone);
            try {
                ch.close();
            } catch (RuntimeException e) {
                LOG.debug("bdev {}: closing the async channel: {}", bdev.name(), e.getMessage());
            }
            failAll(incoming, gone); // handed over while it closed
        }
    }

    /** Submits what waits and what was handed over, in order, until the channel has no room. */
    private boolean take(IoChannel ch, ArrayDeque<AsyncRequest> waiting) {
        boolean any = false;
        AsyncRequest r;
        while ((r = waiting.peekFirst()) != null) {
            if (!submitOne(ch, r)) {
                return any;
            }
            waiting.pollFirst();
            any = true;
        }
        while ((r = incoming.poll()) != null) {
            if (!submitOne(ch, r)) {
                waiting.addLast(r);
                return any;
            }
            any = true;
        }
        return any;
    }

    private static boolean submitOne(IoChannel ch, AsyncRequest r) {
        try {
            return r.submit(ch);
        } catch (VirtioException e) {
            r.finish(e); // refused outright (out of range, read-only, the device gone): the caller gets it
            return true;
        } catch (RuntimeException e) {
            r.finish(new BdevIoException(BdevIoException.Reason.INVALID_ARGUMENT, e.getMessage()));
            return true;
        }
    }

    private static void failAll(java.util.Queue<AsyncRequest> q, VirtioException e) {
        AsyncRequest r;
        while ((r = q.poll()) != null) {
            r.finish(e);
        }
    }

    /** Finishes what is in flight and what was handed over, then closes the channel and stops the poller. */
    @Override
    public void close() {
        closing = true;
        LockSupport.unpark(poller);
        if (Thread.currentThread() != poller) {
            try {
                poller.join(TimeUnit.SECONDS.toMillis(30));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
