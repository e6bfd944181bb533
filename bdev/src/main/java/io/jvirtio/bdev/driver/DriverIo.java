package io.jvirtio.bdev.driver;

import io.jvirtio.bdev.IoCallback;
import io.jvirtio.bdev.IoType;
import io.jvirtio.spec.VirtioException;

import java.lang.foreign.MemorySegment;

/**
 * One caller I/O in flight (SPDK's {@code spdk_bdev_io}): pooled in {@link IoSlots}, reused, never
 * allocated per I/O. A caller I/O may need several device requests ({@link DriverRequest}s) to
 * honour the device's limits; {@link #remaining} and the iovec position say how far it got.
 * Drivers extend it with what their requests need (the next sector or LBA).
 */
public abstract class DriverIo {
    /** {@link #bytes} of an I/O the statistics leave out (virtio-blk's get_id) */
    public static final long UNCOUNTED = -1;

    /** backs read()/write() of one buffer so they share the vectored path without allocating */
    public final MemorySegment[] single = new MemorySegment[1];

    IoSlots<?> slots;
    int slot;

    /** what the caller asked for; a driver-private operation maps to the type it resembles and names itself in {@link #opName()} */
    public IoType op;
    /** the caller's iovecs ({@link #single} for one buffer); null for an I/O without data */
    public MemorySegment[] iovs;
    /** how many of {@link #iovs} the I/O uses */
    public int iovcnt;
    /** the byte offset the caller gave, for error messages */
    public long offset;
    /** what is not yet submitted, in the driver's unit (bytes, blocks; 1 for a request without data) */
    public long remaining;
    /** the next iovec to carry data from, and the byte in it */
    public int iovIndex;
    public long iovOffset;
    /** requests of this I/O the device holds (or the driver holds for a retry) */
    public int requestsInFlight;
    /** waiting in a {@link PendingFifo} */
    public boolean queued;
    /** the first error: the I/O completes with it once its requests are back */
    public VirtioException error;
    /**
     * bytes the I/O carries, for the statistics (the range for unmap and write-zeroes, 0 for flush
     * and reset); {@link #UNCOUNTED} for a driver-private operation the statistics leave out
     */
    public long bytes;
    /** when the I/O was taken from its pool ({@link System#nanoTime()}): its latency starts there */
    long startTicks;
    /** what the caller gave at submission, handed back at completion */
    public IoCallback callback;
    public Object context;

    /** @return the operation's name for messages, as SPDK spells it */
    public String opName() {
        return op.spdkName();
    }

    /** @return the pool this I/O belongs to */
    public IoSlots<?> slots() {
        return slots;
    }

    /** Sets up the caller's iovecs: {@code singleBuffer}, when not null, stands for a vector of one. */
    public final void setData(MemorySegment[] vector, MemorySegment singleBuffer, int count) {
        if (singleBuffer != null) {
            single[0] = singleBuffer;
            vector = single;
        }
        iovs = vector;
        iovcnt = count;
    }

    /** Forgets the finished I/O so it holds on to nothing; drivers clear their own fields, then call this. */
    protected void clear() {
        iovs = null;
        single[0] = null;
        error = null;
        callback = null;
        context = null;
        queued = false;
        requestsInFlight = 0;
        iovIndex = 0;
        iovOffset = 0;
        iovcnt = 0;
        bytes = 0;
    }
}
