package io.jvirtio.scsi;

import io.jvirtio.bdev.IoCallback;
import io.jvirtio.spec.VirtioException;

import java.lang.foreign.MemorySegment;

/**
 * One caller I/O of a {@link VirtioScsiChannel}: pooled, reused, never allocated per I/O. It becomes
 * as many SCSI commands ({@link ScsiCmd}) as the LUN's block limits, max_sectors and seg_max
 * require; the cursor fields say how far it got.
 */
final class ScsiIo {
    static final int OP_READ = 0;
    static final int OP_WRITE = 1;
    static final int OP_FLUSH = 2;
    static final int OP_UNMAP = 3;
    static final int OP_WRITE_ZEROES = 4;
    static final int OP_RESET = 5;

    final int slot;
    final VirtioScsiChannel channel;
    /** backs read()/write() of one buffer so they share the vectored path without allocating */
    final MemorySegment[] single = new MemorySegment[1];

    int op;
    boolean active;
    MemorySegment[] iovs;
    int iovcnt;
    /** the byte offset the caller gave, for error messages */
    long offset;
    /** next block to submit */
    long lba;
    /** blocks not yet submitted (flush, reset: 1 until submitted) */
    long blocksLeft;
    int iovIndex;
    long iovOffset;
    int cmdsInFlight;
    boolean queued;
    /** submission order on the queue: a reset waits for the I/O of its channel submitted before it */
    long seq;
    VirtioException error;
    IoCallback callback;
    Object context;
    /** a reset's task management function on the control queue */
    ControlQueue.Tmf tmf;

    ScsiIo(int slot, VirtioScsiChannel channel) {
        this.slot = slot;
        this.channel = channel;
    }

    void clear() {
        active = false;
        iovs = null;
        single[0] = null;
        error = null;
        callback = null;
        context = null;
        queued = false;
        cmdsInFlight = 0;
        iovIndex = 0;
        iovOffset = 0;
        tmf = null;
    }

    static String opName(int op) {
        return switch (op) {
            case OP_READ -> "read";
            case OP_WRITE -> "write";
            case OP_FLUSH -> "flush";
            case OP_UNMAP -> "unmap";
            case OP_WRITE_ZEROES -> "write_zeroes";
            case OP_RESET -> "reset";
            default -> "op " + op;
        };
    }
}
