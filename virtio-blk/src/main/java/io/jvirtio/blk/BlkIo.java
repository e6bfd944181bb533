package io.jvirtio.blk;

import io.jvirtio.bdev.IoCallback;
import io.jvirtio.spec.VirtioException;

import java.lang.foreign.MemorySegment;

/**
 * One caller I/O in flight on a {@link VirtioBlkChannel}: pooled, reused, never allocated per I/O.
 * A caller I/O may need several virtio requests ({@link BlkPart}s) to honour the device's
 * seg_max, size_max and discard/write-zeroes limits; the cursor fields say how far it got.
 */
final class BlkIo {
    static final int OP_READ = 0;
    static final int OP_WRITE = 1;
    static final int OP_FLUSH = 2;
    static final int OP_UNMAP = 3;
    static final int OP_WRITE_ZEROES = 4;
    static final int OP_RESET = 5;
    static final int OP_GET_ID = 6;

    final int slot;
    /** backs read()/write() of one buffer so they share the vectored path without allocating */
    final MemorySegment[] single = new MemorySegment[1];

    int op;
    MemorySegment[] iovs;
    int iovcnt;
    /** the first byte offset, kept for error messages */
    long offset;
    /** next 512-byte sector to submit */
    long sector;
    /** bytes (or, for flush/get-id, requests) not yet submitted */
    long remaining;
    int iovIndex;
    long iovOffset;
    int partsInFlight;
    boolean queued;
    VirtioException error;
    IoCallback callback;
    Object context;

    BlkIo(int slot) {
        this.slot = slot;
    }

    void clear() {
        iovs = null;
        single[0] = null;
        error = null;
        callback = null;
        context = null;
        queued = false;
        partsInFlight = 0;
        iovIndex = 0;
        iovOffset = 0;
    }

    static String opName(int op) {
        return switch (op) {
            case OP_READ -> "read";
            case OP_WRITE -> "write";
            case OP_FLUSH -> "flush";
            case OP_UNMAP -> "unmap";
            case OP_WRITE_ZEROES -> "write_zeroes";
            case OP_RESET -> "reset";
            case OP_GET_ID -> "get_id";
            default -> "op " + op;
        };
    }
}
