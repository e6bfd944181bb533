package io.jvirtio.backend.ring;

import io.jvirtio.backend.device.DeviceRequest;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A popped descriptor chain as a {@link DeviceRequest}. One per descriptor head, reused: a head
 * cannot be popped again until it was completed. Buffer arrays grow to the longest chain seen.
 */
final class QueueRequest implements DeviceRequest {
    private static final int INITIAL_BUFFERS = 4;

    private final DeviceQueue queue;
    private final int head;
    private MemorySegment[] readable = new MemorySegment[INITIAL_BUFFERS];
    private MemorySegment[] writable = new MemorySegment[INITIAL_BUFFERS];
    private int readableCount;
    private int writableCount;
    private long readableBytes;
    private long writableBytes;
    /** Descriptors in the chain (a buffer split over two regions still counts once). */
    int descriptorCount;
    /** Packed ring: the slots its chain took, what the used position skips when it completes. */
    int ringSlots;
    /** Guarded by the queue's used lock. */
    boolean inFlight;
    /** Set once a completion was deferred by the delay fault, so the deferred run publishes it. */
    boolean delayed;

    QueueRequest(DeviceQueue queue, int head) {
        this.queue = queue;
        this.head = head;
    }

    int head() {
        return head;
    }

    void reset() {
        Arrays.fill(readable, 0, readableCount, null);
        Arrays.fill(writable, 0, writableCount, null);
        readableCount = 0;
        writableCount = 0;
        readableBytes = 0;
        writableBytes = 0;
        descriptorCount = 0;
        delayed = false;
    }

    void addReadable(MemorySegment s) {
        if (readableCount == readable.length) {
            readable = Arrays.copyOf(readable, readable.length * 2);
        }
        readable[readableCount++] = s;
        readableBytes += s.byteSize();
    }

    void addWritable(MemorySegment s) {
        if (writableCount == writable.length) {
            writable = Arrays.copyOf(writable, writable.length * 2);
        }
        writable[writableCount++] = s;
        writableBytes += s.byteSize();
    }

    @Override
    public int queueIndex() {
        return queue.index();
    }

    @Override
    public int readableCount() {
        return readableCount;
    }

    @Override
    public MemorySegment readable(int i) {
        if (i < 0 || i >= readableCount) {
            throw new IndexOutOfBoundsException("readable buffer " + i + " of " + readableCount);
        }
        return readable[i];
    }

    @Override
    public int writableCount() {
        return writableCount;
    }

    @Override
    public MemorySegment writable(int i) {
        if (i < 0 || i >= writableCount) {
            throw new IndexOutOfBoundsException("writable buffer " + i + " of " + writableCount);
        }
        return writable[i];
    }

    @Override
    public long readableBytes() {
        return readableBytes;
    }

    @Override
    public long writableBytes() {
        return writableBytes;
    }

    @Override
    public void complete(int bytesWritten) {
        queue.complete(this, bytesWritten);
    }

    @Override
    public String toString() {
        return "request{queue " + queue.index() + ", head " + head + ", " + readableCount + " readable (" + readableBytes + " B), "
                + writableCount + " writable (" + writableBytes + " B)}";
    }
}
