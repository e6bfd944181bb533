package io.jvirtio.backend.blk;

import io.jvirtio.backend.device.DeviceRequest;

import java.lang.foreign.MemorySegment;

/**
 * A byte range of a request's readable or writable buffers, seen as one stream whatever the
 * framing (virtio 1.x devices must not assume where the driver splits a request into buffers:
 * header, data and status may share or straddle descriptors).
 */
final class RequestBytes {
    /** Receives one contiguous piece of a range. */
    @FunctionalInterface
    interface PieceVisitor {
        /**
         * @param rangeOffset where the piece starts within the range
         * @param piece       the bytes
         */
        void visit(long rangeOffset, MemorySegment piece);
    }

    private RequestBytes() {
    }

    /**
     * Visits {@code [from, from+length)} of the readable ({@code writable == false}) or writable
     * buffers, piece by piece.
     *
     * @return the number of pieces
     */
    static int forEach(DeviceRequest r, boolean writable, long from, long length, PieceVisitor v) {
        int n = writable ? r.writableCount() : r.readableCount();
        long pos = 0;
        long done = 0;
        int pieces = 0;
        for (int i = 0; i < n && done < length; i++) {
            MemorySegment s = writable ? r.writable(i) : r.readable(i);
            long size = s.byteSize();
            long start = from + done;
            if (start < pos + size) {
                long off = start - pos;
                long take = Math.min(size - off, length - done);
                v.visit(done, s.asSlice(off, take));
                done += take;
                pieces++;
            }
            pos += size;
        }
        return pieces;
    }

    /** Copies {@code dst.byteSize()} readable bytes starting at {@code from} into {@code dst}. */
    static void copyReadable(DeviceRequest r, long from, MemorySegment dst) {
        forEach(r, false, from, dst.byteSize(), (off, piece) -> MemorySegment.copy(piece, 0, dst, off, piece.byteSize()));
    }

    /** Copies {@code src} into the writable bytes starting at {@code from}. */
    static void copyToWritable(DeviceRequest r, long from, MemorySegment src) {
        forEach(r, true, from, src.byteSize(), (off, piece) -> MemorySegment.copy(src, off, piece, 0, piece.byteSize()));
    }

    /** @return the segment holding the last writable byte (the status byte), as a 1-byte slice */
    static MemorySegment lastWritableByte(DeviceRequest r) {
        MemorySegment last = r.writable(r.writableCount() - 1);
        return last.asSlice(last.byteSize() - 1, 1);
    }
}
