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

    /** Completes nothing further: in-flight I/Os fail, the queue is released. */
    @Override
    void close();
}
