package io.jvirtio.backend.scsi;

import io.jvirtio.backend.device.DeviceRequest;
import io.jvirtio.backend.store.BlockStore;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * One direction of a request's buffers (device-readable or device-writable) seen as a single
 * logical byte range, starting at a logical offset (the end of the header part). The driver may
 * split any struct across descriptors, so every access goes through here.
 *
 * <p>Buffers are kept as ranges of the mapped regions' segments ({@link DeviceRequest#readableMemory}
 * and its offset and length), never as slices, and an {@code Iov} is reusable: a command's views
 * are {@link #reset} for each request it serves, so the command path allocates nothing. A view made
 * by {@link #viewOf} shares its parent's arrays and is valid until the parent is reset again.
 */
final class Iov {
    private static final int INITIAL = 4;

    private static final int COPY_OUT = 0;    // this view -> a segment
    private static final int COPY_IN = 1;     // a segment -> this view
    private static final int STORE_READ = 2;  // the store -> this view
    private static final int STORE_WRITE = 3; // this view -> the store

    private MemorySegment[] memory = new MemorySegment[INITIAL];
    private long[] offsets = new long[INITIAL];
    private long[] lengths = new long[INITIAL];
    private int count;
    /** The logical offset, in the whole range, where this view starts. */
    private long base;
    /** Bytes from {@link #base} to the end of the buffers. */
    private long length;

    /** An empty view, to be {@link #reset} or made a {@link #viewOf} before use. */
    Iov() {
    }

    /** @return a new view of {@code r}'s readable or writable buffers (cold paths: control and event queues) */
    static Iov of(DeviceRequest r, boolean readable) {
        Iov v = new Iov();
        v.reset(r, readable);
        return v;
    }

    /** Points this view at {@code r}'s readable or writable buffers, from their start, reusing its arrays. */
    void reset(DeviceRequest r, boolean readable) {
        int n = readable ? r.readableCount() : r.writableCount();
        if (n > memory.length) {
            int cap = Math.max(n, memory.length * 2);
            memory = new MemorySegment[cap];
            offsets = new long[cap];
            lengths = new long[cap];
        }
        long total = 0;
        for (int i = 0; i < n; i++) {
            memory[i] = readable ? r.readableMemory(i) : r.writableMemory(i);
            offsets[i] = readable ? r.readableOffset(i) : r.writableOffset(i);
            lengths[i] = readable ? r.readableLength(i) : r.writableLength(i);
            total += lengths[i];
        }
        Arrays.fill(memory, n, Math.max(n, count), null); // no reference kept to an old request's regions
        count = n;
        base = 0;
        length = total;
    }

    /** Makes this a view of {@code whole} from {@code skip} bytes on (clamped to its end), sharing its buffers. */
    void viewOf(Iov whole, long skip) {
        long s = Math.min(Math.max(skip, 0), whole.length);
        memory = whole.memory;
        offsets = whole.offsets;
        lengths = whole.lengths;
        count = whole.count;
        base = whole.base + s;
        length = whole.length - s;
    }

    /** @return the number of bytes from this view's start to the end of the buffers */
    long length() {
        return length;
    }

    /** Copies {@code dst.byteSize()} bytes at {@code offset} of this view into {@code dst}. */
    void read(long offset, MemorySegment dst) {
        copyOut(offset, dst, 0, dst.byteSize());
    }

    /** Copies {@code src} to {@code offset} of this view. */
    void write(long offset, MemorySegment src) {
        copyIn(offset, src, 0, src.byteSize());
    }

    /** Copies {@code len} bytes at {@code offset} of this view to {@code [dstOffset, +len)} of {@code dst}. */
    void copyOut(long offset, MemorySegment dst, long dstOffset, long len) {
        transfer(COPY_OUT, offset, len, dst, dstOffset, null, 0);
    }

    /** Copies {@code [srcOffset, +len)} of {@code src} to {@code offset} of this view. */
    void copyIn(long offset, MemorySegment src, long srcOffset, long len) {
        transfer(COPY_IN, offset, len, src, srcOffset, null, 0);
    }

    /** Reads {@code len} bytes of {@code store} from {@code storeOffset} into this view, from its start. */
    void readFrom(BlockStore store, long storeOffset, long len) {
        transfer(STORE_READ, 0, len, null, 0, store, storeOffset);
    }

    /** Writes {@code len} bytes of this view, from its start, to {@code store} at {@code storeOffset}. */
    void writeTo(BlockStore store, long storeOffset, long len) {
        transfer(STORE_WRITE, 0, len, null, 0, store, storeOffset);
    }

    /** One loop for every operation, piece by piece over the buffers: no slice, no lambda. */
    private void transfer(int op, long offset, long len, MemorySegment other, long otherOffset, BlockStore store, long storeOffset) {
        if (offset < 0 || len < 0 || offset + len > length) {
            throw new IndexOutOfBoundsException("range " + offset + "+" + len + " outside " + length + " bytes");
        }
        long pos = base + offset;
        long remaining = len;
        long done = 0;
        for (int i = 0; i < count && remaining > 0; i++) {
            long size = lengths[i];
            if (pos >= size) {
                pos -= size;
                continue;
            }
            long n = Math.min(size - pos, remaining);
            MemorySegment m = memory[i];
            long at = offsets[i] + pos;
            switch (op) {
                case COPY_OUT -> MemorySegment.copy(m, at, other, otherOffset + done, n);
                case COPY_IN -> MemorySegment.copy(other, otherOffset + done, m, at, n);
                case STORE_READ -> store.read(storeOffset + done, m, at, n);
                default -> store.write(storeOffset + done, m, at, n);
            }
            done += n;
            remaining -= n;
            pos = 0;
        }
    }
}
