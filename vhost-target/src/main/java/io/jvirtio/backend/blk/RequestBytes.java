package io.jvirtio.backend.blk;

import io.jvirtio.backend.device.DeviceRequest;
import io.jvirtio.backend.store.BlockStore;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A byte range of a request's readable or writable buffers, seen as one stream whatever the
 * framing (virtio 1.x devices must not assume where the driver splits a request into buffers:
 * header, data and status may share or straddle descriptors). Everything works on the buffers'
 * ranges ({@link DeviceRequest#readableMemory} ...): no slice, lambda or array per request.
 */
final class RequestBytes {
    private RequestBytes() {
    }

    private static int count(DeviceRequest r, boolean writable) {
        return writable ? r.writableCount() : r.readableCount();
    }

    private static long length(DeviceRequest r, boolean writable, int i) {
        return writable ? r.writableLength(i) : r.readableLength(i);
    }

    private static MemorySegment memory(DeviceRequest r, boolean writable, int i) {
        return writable ? r.writableMemory(i) : r.readableMemory(i);
    }

    private static long offset(DeviceRequest r, boolean writable, int i) {
        return writable ? r.writableOffset(i) : r.readableOffset(i);
    }

    /** @return how many buffer pieces {@code [from, from+length)} of one direction touches */
    static int pieces(DeviceRequest r, boolean writable, long from, long length) {
        int n = count(r, writable);
        long pos = 0;
        long done = 0;
        int pieces = 0;
        for (int i = 0; i < n && done < length; i++) {
            long size = length(r, writable, i);
            long start = from + done;
            if (start < pos + size) {
                done += Math.min(size - (start - pos), length - done);
                pieces++;
            }
            pos += size;
        }
        return pieces;
    }

    /** @return the largest piece of {@code [from, from+length)} of one direction */
    static long largestPiece(DeviceRequest r, boolean writable, long from, long length) {
        int n = count(r, writable);
        long pos = 0;
        long done = 0;
        long largest = 0;
        for (int i = 0; i < n && done < length; i++) {
            long size = length(r, writable, i);
            long start = from + done;
            if (start < pos + size) {
                long take = Math.min(size - (start - pos), length - done);
                largest = Math.max(largest, take);
                done += take;
            }
            pos += size;
        }
        return largest;
    }

    /**
     * Moves {@code [from, from+length)} of one direction to or from the store at {@code storeOffset}:
     * writable buffers are filled from the store (a read), readable ones go to it (a write).
     */
    static void transfer(DeviceRequest r, boolean writable, long from, long length, BlockStore store, long storeOffset) {
        int n = count(r, writable);
        long pos = 0;
        long done = 0;
        for (int i = 0; i < n && done < length; i++) {
            long size = length(r, writable, i);
            long start = from + done;
            if (start < pos + size) {
                long off = start - pos;
                long take = Math.min(size - off, length - done);
                MemorySegment mem = memory(r, writable, i);
                long at = offset(r, writable, i) + off;
                if (writable) {
                    store.read(storeOffset + done, mem, at, take);
                } else {
                    store.write(storeOffset + done, mem, at, take);
                }
                done += take;
            }
            pos += size;
        }
    }

    /** Copies {@code dst.byteSize()} readable bytes starting at {@code from} into {@code dst}. */
    static void copyReadable(DeviceRequest r, long from, MemorySegment dst) {
        copy(r, false, from, dst);
    }

    /** Copies {@code src} into the writable bytes starting at {@code from}. */
    static void copyToWritable(DeviceRequest r, long from, MemorySegment src) {
        copy(r, true, from, src);
    }

    private static void copy(DeviceRequest r, boolean writable, long from, MemorySegment other) {
        long length = other.byteSize();
        int n = count(r, writable);
        long pos = 0;
        long done = 0;
        for (int i = 0; i < n && done < length; i++) {
            long size = length(r, writable, i);
            long start = from + done;
            if (start < pos + size) {
                long off = start - pos;
                long take = Math.min(size - off, length - done);
                long at = offset(r, writable, i) + off;
                if (writable) {
                    MemorySegment.copy(other, done, memory(r, true, i), at, take);
                } else {
                    MemorySegment.copy(memory(r, false, i), at, other, done, take);
                }
                done += take;
            }
            pos += size;
        }
    }

    /** Writes the status byte: the last writable byte. */
    static void setStatus(DeviceRequest r, int status) {
        int last = r.writableCount() - 1;
        r.writableMemory(last).set(ValueLayout.JAVA_BYTE, r.writableOffset(last) + r.writableLength(last) - 1, (byte) status);
    }
}
