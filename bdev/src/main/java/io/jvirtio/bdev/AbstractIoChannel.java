package io.jvirtio.bdev;

import java.lang.foreign.MemorySegment;

/**
 * A skeleton for {@link IoChannel} implementations (drivers, not storage engines): the one-buffer
 * and vectored data calls of both directions all go to one vectored path, {@link #rw}. A single
 * buffer is passed on as it is, not wrapped in an array, so neither form allocates per I/O.
 */
public abstract class AbstractIoChannel implements IoChannel {
    /** For subclasses. */
    protected AbstractIoChannel() {
    }

    @Override
    public final boolean read(MemorySegment buffer, long offset, IoCallback callback, Object context) {
        return rw(IoType.READ, null, buffer, 1, offset, callback, context);
    }

    @Override
    public final boolean write(MemorySegment buffer, long offset, IoCallback callback, Object context) {
        return rw(IoType.WRITE, null, buffer, 1, offset, callback, context);
    }

    @Override
    public final boolean readv(MemorySegment[] iovs, int iovcnt, long offset, IoCallback callback, Object context) {
        return rw(IoType.READ, iovs, null, iovcnt, offset, callback, context);
    }

    @Override
    public final boolean writev(MemorySegment[] iovs, int iovcnt, long offset, IoCallback callback, Object context) {
        return rw(IoType.WRITE, iovs, null, iovcnt, offset, callback, context);
    }

    /**
     * Checks and submits a read or write, as {@link IoChannel#readv} and {@link IoChannel#writev} describe.
     *
     * @param op     {@link IoType#READ} or {@link IoType#WRITE}
     * @param iovs   the caller's iovecs; null when {@code single} is given
     * @param single the one buffer of {@link #read}/{@link #write}, or null
     * @param iovcnt how many of {@code iovs} to use (1 with {@code single})
     * @return false when the channel has no free request slot
     */
    protected abstract boolean rw(IoType op, MemorySegment[] iovs, MemorySegment single, int iovcnt, long offset,
                                  IoCallback callback, Object context);
}
