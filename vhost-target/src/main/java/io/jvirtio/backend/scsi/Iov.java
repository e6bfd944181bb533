package io.jvirtio.backend.scsi;

import java.lang.foreign.MemorySegment;
import java.util.function.IntFunction;

/**
 * One direction of a request's buffers (device-readable or device-writable) seen as a single
 * logical byte range, starting at a logical offset (the end of the header part). The driver may
 * split any struct across descriptors, so every access goes through here.
 */
final class Iov {
    /** Receives one piece of a range: the logical offset of the piece (from the range start) and its memory. */
    @FunctionalInterface
    interface ChunkConsumer {
        void accept(long rangeOffset, MemorySegment chunk);
    }

    private final MemorySegment[] segments;
    private final long base;
    private final long length;

    private Iov(MemorySegment[] segments, long base, long length) {
        this.segments = segments;
        this.base = base;
        this.length = length;
    }

    static Iov of(int count, IntFunction<MemorySegment> segment) {
        MemorySegment[] segs = new MemorySegment[count];
        long total = 0;
        for (int i = 0; i < count; i++) {
            segs[i] = segment.apply(i);
            total += segs[i].byteSize();
        }
        return new Iov(segs, 0, total);
    }

    /** @return the same buffers starting {@code offset} bytes further (clamped to the end) */
    Iov from(long offset) {
        long skip = Math.min(Math.max(offset, 0), length);
        return new Iov(segments, base + skip, length - skip);
    }

    /** @return the number of bytes from this view's start to the end of the buffers */
    long length() {
        return length;
    }

    /** Visits the memory of {@code [offset, offset + len)} of this view, piece by piece; the caller checked the bounds. */
    void forEach(long offset, long len, ChunkConsumer consumer) {
        if (offset < 0 || len < 0 || offset + len > length) {
            throw new IndexOutOfBoundsException("range " + offset + "+" + len + " outside " + length + " bytes");
        }
        long pos = base + offset;
        long remaining = len;
        long done = 0;
        for (MemorySegment seg : segments) {
            if (remaining == 0) {
                break;
            }
            long size = seg.byteSize();
            if (pos >= size) {
                pos -= size;
                continue;
            }
            long n = Math.min(size - pos, remaining);
            consumer.accept(done, seg.asSlice(pos, n));
            done += n;
            remaining -= n;
            pos = 0;
        }
    }

    /** Copies {@code dst.byteSize()} bytes at {@code offset} of this view into {@code dst}. */
    void read(long offset, MemorySegment dst) {
        forEach(offset, dst.byteSize(), (off, chunk) -> MemorySegment.copy(chunk, 0, dst, off, chunk.byteSize()));
    }

    /** Copies {@code src} to {@code offset} of this view. */
    void write(long offset, MemorySegment src) {
        forEach(offset, src.byteSize(), (off, chunk) -> MemorySegment.copy(src, off, chunk, 0, chunk.byteSize()));
    }

    /** Fills {@code len} bytes at {@code offset} with zeros. */
    void zero(long offset, long len) {
        forEach(offset, len, (off, chunk) -> chunk.fill((byte) 0));
    }
}
