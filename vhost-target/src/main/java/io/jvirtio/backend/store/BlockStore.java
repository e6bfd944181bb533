package io.jvirtio.backend.store;

import java.lang.foreign.MemorySegment;

/**
 * Storage behind a device: a RAM buffer or a file. Offsets and lengths are in bytes; the device
 * model has checked them against {@link #sizeBytes()}. Implementations are thread-safe for
 * non-overlapping ranges (several queues at once).
 */
public interface BlockStore extends AutoCloseable {
    /** @return the capacity in bytes */
    long sizeBytes();

    /** @return whether writes are refused */
    boolean readOnly();

    /** Copies {@code dst.byteSize()} bytes at {@code offset} into {@code dst}. */
    void read(long offset, MemorySegment dst);

    /** Copies {@code src} to {@code offset}. */
    void write(long offset, MemorySegment src);

    /**
     * Copies {@code length} bytes at {@code offset} into {@code [bufOffset, +length)} of {@code buf}
     * (a whole mapped region: the queue threads' hot path passes ranges, not slices). The default
     * slices; stores on the hot path override it without allocating.
     */
    default void read(long offset, MemorySegment buf, long bufOffset, long length) {
        read(offset, buf.asSlice(bufOffset, length));
    }

    /** Copies {@code [bufOffset, +length)} of {@code buf} to {@code offset}; see {@link #read(long, MemorySegment, long, long)}. */
    default void write(long offset, MemorySegment buf, long bufOffset, long length) {
        write(offset, buf.asSlice(bufOffset, length));
    }

    /** Makes written data durable. */
    void flush();

    /** Deallocates a range; it reads back as zeros afterwards. */
    void discard(long offset, long length);

    /** Writes zeros over a range. */
    void writeZeroes(long offset, long length);

    @Override
    void close();
}
