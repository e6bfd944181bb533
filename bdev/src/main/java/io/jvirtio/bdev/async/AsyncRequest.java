package io.jvirtio.bdev.async;

import io.jvirtio.bdev.IoCallback;
import io.jvirtio.bdev.IoChannel;
import io.jvirtio.spec.VirtioException;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.LockSupport;

/**
 * One I/O handed from a caller's thread to the poller: what to do, and how the caller learns it is done —
 * a future to complete, or a (virtual) thread to unpark.
 */
final class AsyncRequest implements IoCallback {
    enum Op { READ, WRITE, FLUSH, UNMAP, WRITE_ZEROES }

    final Op op;
    final MemorySegment buffer;
    final long offset;
    final long length;
    /** completed by the poller; null for a blocking call */
    final CompletableFuture<Void> future;
    /** unparked by the poller; null for a future */
    final Thread waiter;
    private volatile boolean done;
    private volatile VirtioException error;

    AsyncRequest(Op op, MemorySegment buffer, long offset, long length, CompletableFuture<Void> future, Thread waiter) {
        this.op = op;
        this.buffer = buffer;
        this.offset = offset;
        this.length = length;
        this.future = future;
        this.waiter = waiter;
    }

    /** Submits on the poller's channel; false when the channel has no room now. */
    boolean submit(IoChannel ch) {
        return switch (op) {
            case READ -> ch.read(buffer, offset, this, null);
            case WRITE -> ch.write(buffer, offset, this, null);
            case FLUSH -> ch.flush(this, null);
            case UNMAP -> ch.unmap(offset, length, this, null);
            case WRITE_ZEROES -> ch.writeZeroes(offset, length, this, null);
        };
    }

    @Override
    public void onComplete(Object context, VirtioException e) {
        finish(e);
    }

    /** On the poller: the outcome, to the future or the parked thread. */
    void finish(VirtioException e) {
        error = e;
        done = true;
        if (future != null) {
            if (e == null) {
                future.complete(null);
            } else {
                future.completeExceptionally(e);
            }
        } else {
            LockSupport.unpark(waiter);
        }
    }

    boolean isDone() {
        return done;
    }

    VirtioException error() {
        return error;
    }
}
