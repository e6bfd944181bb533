package io.jvirtio.backend.ring;

import io.jvirtio.backend.device.DeviceRequest;
import io.jvirtio.backend.mem.GuestMemory;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A popped descriptor chain as a {@link DeviceRequest}. One per descriptor head, reused: a head
 * cannot be popped again until it was completed. Buffers are kept as ranges of the mapped regions'
 * segments (no slice per buffer); the arrays grow to the longest chain seen.
 */
final class QueueRequest implements DeviceRequest {
    private static final int INITIAL_BUFFERS = 4;

    private final DeviceQueue queue;
    private final int head;
    private final Buffers readable = new Buffers();
    private final Buffers writable = new Buffers();
    /** ChainReader's sinks, made once: a method reference per descriptor would allocate. */
    final GuestMemory.RangeSink readableSink = readable::add;
    final GuestMemory.RangeSink writableSink = writable::add;
    /** Descriptors in the chain (a buffer split over two regions still counts once). */
    int descriptorCount;
    /** Packed ring: the slots its chain took, what the used position skips when it completes. */
    int ringSlots;
    /** Packed ring with INFLIGHT_SHMFD: its head entry in the inflight area, or -1. */
    int inflightEntry = -1;
    /** Guarded by the queue's used lock. */
    boolean inFlight;
    /** Set once a completion was deferred by the delay fault, so the deferred run publishes it. */
    boolean delayed;
    /** The model's object for this head (see {@link DeviceRequest#attach}). */
    private Object attachment;

    /** One direction's buffers. */
    private static final class Buffers {
        MemorySegment[] memory = new MemorySegment[INITIAL_BUFFERS];
        long[] offset = new long[INITIAL_BUFFERS];
        long[] length = new long[INITIAL_BUFFERS];
        int count;
        long bytes;

        void add(MemorySegment region, long off, long len) {
            if (count == memory.length) {
                memory = Arrays.copyOf(memory, count * 2);
                offset = Arrays.copyOf(offset, count * 2);
                length = Arrays.copyOf(length, count * 2);
            }
            memory[count] = region;
            offset[count] = off;
            length[count] = len;
            count++;
            bytes += len;
        }

        void reset() {
            Arrays.fill(memory, 0, count, null);
            count = 0;
            bytes = 0;
        }

        int check(int i, String what) {
            if (i < 0 || i >= count) {
                throw new IndexOutOfBoundsException(what + " buffer " + i + " of " + count);
            }
            return i;
        }
    }

    QueueRequest(DeviceQueue queue, int head) {
        this.queue = queue;
        this.head = head;
    }

    int head() {
        return head;
    }

    void reset() {
        readable.reset();
        writable.reset();
        descriptorCount = 0;
        delayed = false;
    }

    @Override
    public Object attachment() {
        return attachment;
    }

    @Override
    public boolean attach(Object o) {
        attachment = o;
        return true;
    }

    @Override
    public int queueIndex() {
        return queue.index();
    }

    @Override
    public int readableCount() {
        return readable.count;
    }

    @Override
    public MemorySegment readable(int i) {
        readable.check(i, "readable");
        return readable.memory[i].asSlice(readable.offset[i], readable.length[i]);
    }

    @Override
    public MemorySegment readableMemory(int i) {
        return readable.memory[readable.check(i, "readable")];
    }

    @Override
    public long readableOffset(int i) {
        return readable.offset[readable.check(i, "readable")];
    }

    @Override
    public long readableLength(int i) {
        return readable.length[readable.check(i, "readable")];
    }

    @Override
    public int writableCount() {
        return writable.count;
    }

    @Override
    public MemorySegment writable(int i) {
        writable.check(i, "writable");
        return writable.memory[i].asSlice(writable.offset[i], writable.length[i]);
    }

    @Override
    public MemorySegment writableMemory(int i) {
        return writable.memory[writable.check(i, "writable")];
    }

    @Override
    public long writableOffset(int i) {
        return writable.offset[writable.check(i, "writable")];
    }

    @Override
    public long writableLength(int i) {
        return writable.length[writable.check(i, "writable")];
    }

    @Override
    public long readableBytes() {
        return readable.bytes;
    }

    @Override
    public long writableBytes() {
        return writable.bytes;
    }

    @Override
    public void complete(int bytesWritten) {
        queue.complete(this, bytesWritten);
    }

    @Override
    public String toString() {
        return "request{queue " + queue.index() + ", head " + head + ", " + readable.count + " readable (" + readable.bytes + " B), "
                + writable.count + " writable (" + writable.bytes + " B)}";
    }
}
