package io.jvirtio.bdev;

import java.lang.foreign.MemorySegment;

/**
 * One thread's access to a {@link Bdev} through one request queue (SPDK's {@code spdk_io_channel}).
 * Only the thread that opened it may use it. Submissions are asynchronous: the callback runs from
 * {@link #poll} on this thread. Offsets and lengths are in bytes and must be multiples of the
 * block size; buffers must come from {@link Bdev#allocateBuffer}.
 *
 * <p>Each submit method returns {@code false} when the channel has no free request slot (as SPDK's
 * {@code -ENOMEM}): poll, then submit again. Arguments the device could never execute (misaligned,
 * out of range, unsupported type, a write to a read-only device) throw {@link BdevIoException}
 * before anything reaches the device. No submit or poll allocates on success.
 */
public interface IoChannel extends AutoCloseable {
    /** @return the bdev */
    Bdev bdev();

    /** Reads {@code buffer.byteSize()} bytes at {@code offset} into {@code buffer}. */
    boolean read(MemorySegment buffer, long offset, IoCallback callback, Object context);

    /** Writes {@code buffer} at {@code offset}. */
    boolean write(MemorySegment buffer, long offset, IoCallback callback, Object context);

    /** Reads into {@code iovs[0..iovcnt)} in order, starting at {@code offset}. */
    boolean readv(MemorySegment[] iovs, int iovcnt, long offset, IoCallback callback, Object context);

    /** Writes {@code iovs[0..iovcnt)} in order, starting at {@code offset}. */
    boolean writev(MemorySegment[] iovs, int iovcnt, long offset, IoCallback callback, Object context);

    /** Makes every completed write durable. */
    boolean flush(IoCallback callback, Object context);

    /** Discards {@code length} bytes at {@code offset} (contents afterwards are unspecified or zero, per device). */
    boolean unmap(long offset, long length, IoCallback callback, Object context);

    /** Writes zeros over {@code length} bytes at {@code offset}, without a data buffer. */
    boolean writeZeroes(long offset, long length, IoCallback callback, Object context);

    /** Resets the device or LUN; in-flight I/O completes (possibly with errors) before the callback. */
    boolean reset(IoCallback callback, Object context);

    /**
     * Takes completions from the device and runs their callbacks.
     *
     * @return the number of I/Os completed
     */
    int poll();

    /** @return I/Os submitted and not yet completed */
    int inFlight();

    /**
     * Polls, and when nothing has completed waits up to {@code timeoutNanos} for a completion as the
     * channel's {@link #completionMode()} says: spinning, or sleeping on {@link #completionFd()} without
     * the lost-wake-up race (the ring is re-checked after notifications are re-enabled, before sleeping).
     * Like {@link #poll()}, only from the channel's thread; callbacks run on it.
     *
     * <p>The default, for channels that can only poll, spins.
     *
     * @param timeoutNanos the longest wait; 0 polls once
     * @return the number of I/Os completed (0 when the time ran out)
     */
    default int waitForCompletions(long timeoutNanos) {
        long deadline = System.nanoTime() + Math.max(0, timeoutNanos);
        int n;
        while ((n = poll()) == 0 && System.nanoTime() - deadline < 0) {
            Thread.onSpinWait();
        }
        return n;
    }

    /**
     * Chooses how {@link #waitForCompletions} waits. Only from the channel's thread.
     *
     * @throws UnsupportedOperationException if the mode sleeps and the channel has no completion fd
     *                                       (the default: channels that can only poll)
     */
    default void setCompletionMode(CompletionMode mode) {
        if (mode.sleeps()) {
            throw new UnsupportedOperationException("bdev " + bdev().name() + ": completion mode " + mode
                    + " needs a completion fd; this channel can only poll");
        }
    }

    /** @return how {@link #waitForCompletions} waits; {@link CompletionMode#polling()} unless set */
    default CompletionMode completionMode() {
        return CompletionMode.polling();
    }

    /**
     * The fd that becomes readable when the device signals a completion of this channel's queue while
     * notifications are enabled (libblkio's {@code blkioq_get_completion_fd}): for an engine that waits in
     * its own epoll loop. Read it (an eventfd counter) to re-arm, then {@link #poll()}. It belongs to the
     * transport and may change after a reconnect; -1 when there is none (a polling-only channel or
     * transport, or the link is down).
     *
     * @return the fd, or -1
     */
    default int completionFd() {
        return -1;
    }

    /**
     * Before sleeping on {@link #completionFd()} in the caller's own loop: asks the device to signal the
     * next completion and looks at the ring once more.
     *
     * @return true when armed with nothing there yet (sleep on the fd, then {@link #disarmCompletionFd()}
     *         and {@link #poll()}); false when completions are already there, or there is no fd (poll instead)
     */
    default boolean armCompletionFd() {
        return false;
    }

    /** After waking from the completion fd: the device stops signalling every completion. */
    default void disarmCompletionFd() {
    }

    /** Completes nothing further: in-flight I/Os fail, the queue is released. */
    @Override
    void close();
}
