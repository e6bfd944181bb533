package io.jvirtio.bdev;

import io.jvirtio.spec.VirtioException;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * Blocking convenience on top of an {@link IoChannel}: submit, then poll on the calling thread
 * until the I/O completes. For setup code, tools and tests; engines use the asynchronous calls.
 * Not thread-safe: one per channel, used by the channel's thread.
 */
public final class SyncIo implements IoCallback {
    /** How long a blocking call waits by default before declaring the device stuck. */
    public static final long DEFAULT_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(30);

    private final IoChannel channel;
    private final long timeoutNanos;
    private boolean done;
    private VirtioException error;
    /** the context of the I/O being waited for: a late completion of a timed-out call is not taken for it */
    private Object token;

    /** @param channel the channel to drive; waits at most {@link #DEFAULT_TIMEOUT_NANOS} per call */
    public SyncIo(IoChannel channel) {
        this(channel, DEFAULT_TIMEOUT_NANOS);
    }

    /**
     * @param channel      the channel to drive
     * @param timeoutNanos how long one call may wait for its completion
     */
    public SyncIo(IoChannel channel, long timeoutNanos) {
        this.channel = channel;
        this.timeoutNanos = timeoutNanos;
    }

    @Override
    public void onComplete(Object context, VirtioException e) {
        if (context != token) {
            return; // an I/O an earlier call gave up on
        }
        done = true;
        error = e;
    }

    /** Reads {@code buffer.byteSize()} bytes at {@code offset}. */
    public void read(MemorySegment buffer, long offset) {
        run("read", offset, (cb, ctx) -> channel.read(buffer, offset, cb, ctx));
    }

    /** Writes {@code buffer} at {@code offset}. */
    public void write(MemorySegment buffer, long offset) {
        run("write", offset, (cb, ctx) -> channel.write(buffer, offset, cb, ctx));
    }

    /** Vectored read. */
    public void readv(MemorySegment[] iovs, int iovcnt, long offset) {
        run("readv", offset, (cb, ctx) -> channel.readv(iovs, iovcnt, offset, cb, ctx));
    }

    /** Vectored write. */
    public void writev(MemorySegment[] iovs, int iovcnt, long offset) {
        run("writev", offset, (cb, ctx) -> channel.writev(iovs, iovcnt, offset, cb, ctx));
    }

    /** Flushes. */
    public void flush() {
        run("flush", 0, (cb, ctx) -> channel.flush(cb, ctx));
    }

    /** Unmaps a range. */
    public void unmap(long offset, long length) {
        run("unmap", offset, (cb, ctx) -> channel.unmap(offset, length, cb, ctx));
    }

    /** Writes zeros over a range. */
    public void writeZeroes(long offset, long length) {
        run("write_zeroes", offset, (cb, ctx) -> channel.writeZeroes(offset, length, cb, ctx));
    }

    /** Resets. */
    public void reset() {
        run("reset", 0, (cb, ctx) -> channel.reset(cb, ctx));
    }

    /** A submission: true when accepted, false when the channel is full. */
    @FunctionalInterface
    public interface Submission {
        /**
         * @param callback the callback to give the I/O
         * @param context  the context to give the I/O
         * @return whether the channel accepted the I/O
         */
        boolean submit(IoCallback callback, Object context);
    }

    /**
     * Submits (retrying while the channel is full) and polls until completion.
     *
     * @throws VirtioException the I/O's error, or a timeout naming the operation
     */
    public void run(String what, long offset, Submission submission) {
        done = false;
        error = null;
        token = new Object();
        long deadline = System.nanoTime() + timeoutNanos;
        while (!submission.submit(this, token)) {
            channel.poll();
            checkDeadline(deadline, what, offset);
        }
        while (!done) {
            if (channel.poll() == 0) {
                checkDeadline(deadline, what, offset);
                Thread.onSpinWait();
            }
        }
        if (error != null) {
            throw error;
        }
    }

    private void checkDeadline(long deadline, String what, long offset) {
        if (System.nanoTime() - deadline > 0) {
            throw new BdevIoException(BdevIoException.Reason.TIMED_OUT, "bdev " + channel.bdev().name() + ": " + what + " at offset " + offset + " did not complete within "
                    + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms");
        }
    }
}
