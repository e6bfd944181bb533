package io.jvirtio.bdev.driver;

/**
 * Caller I/Os waiting for ring space, in submission order (a ring buffer, no allocation once
 * sized). Once anything waits, later I/Os queue behind it, so the device sees them in order. The
 * head can be put back ({@link #pushFront}) when it still does not fit.
 *
 * @param <I> the driver's I/O context
 */
public final class PendingFifo<I extends DriverIo> {
    private DriverIo[] slots;
    private int head;
    private int count;

    /** @param capacity the most I/Os that can wait: the depth of the channels using it */
    public PendingFifo(int capacity) {
        this.slots = new DriverIo[capacity];
    }

    /** @return how many I/Os wait */
    public int size() {
        return count;
    }

    /** Appends {@code io}. The FIFO never overflows: it holds as many as the channels' slots. */
    public void enqueue(I io) {
        io.queued = true;
        slots[(head + count) % slots.length] = io;
        count++;
    }

    /** @return the oldest waiting I/O, removed */
    @SuppressWarnings("unchecked")
    public I dequeue() {
        DriverIo io = slots[head];
        slots[head] = null;
        head = (head + 1) % slots.length;
        count--;
        io.queued = false;
        return (I) io;
    }

    /** Puts {@code io} back at the head: it was dequeued and still does not fit. */
    public void pushFront(I io) {
        head = (head - 1 + slots.length) % slots.length;
        slots[head] = io;
        count++;
        io.queued = true;
    }

    /** Makes room for {@code extra} more I/Os, keeping the order (setup time: a channel joined the queue). */
    public void grow(int extra) {
        DriverIo[] bigger = new DriverIo[slots.length + extra];
        for (int i = 0; i < count; i++) {
            bigger[i] = slots[(head + i) % slots.length];
        }
        slots = bigger;
        head = 0;
    }
}
