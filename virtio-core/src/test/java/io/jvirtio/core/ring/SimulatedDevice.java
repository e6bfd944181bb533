package io.jvirtio.core.ring;

import io.jvirtio.spec.ring.SplitRingLayout;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

import static io.jvirtio.spec.ring.SplitRingLayout.AVAIL_FLAGS_OFFSET;
import static io.jvirtio.spec.ring.SplitRingLayout.AVAIL_IDX_OFFSET;
import static io.jvirtio.spec.ring.SplitRingLayout.DESC_ADDR_OFFSET;
import static io.jvirtio.spec.ring.SplitRingLayout.DESC_FLAGS_OFFSET;
import static io.jvirtio.spec.ring.SplitRingLayout.DESC_LEN_OFFSET;
import static io.jvirtio.spec.ring.SplitRingLayout.DESC_NEXT_OFFSET;
import static io.jvirtio.spec.ring.SplitRingLayout.DESC_SIZE;
import static io.jvirtio.spec.ring.SplitRingLayout.LE_INT;
import static io.jvirtio.spec.ring.SplitRingLayout.LE_LONG;
import static io.jvirtio.spec.ring.SplitRingLayout.LE_SHORT;
import static io.jvirtio.spec.ring.SplitRingLayout.RING_INDEX_MASK;
import static io.jvirtio.spec.ring.SplitRingLayout.USED_ELEMENT_ID_OFFSET;
import static io.jvirtio.spec.ring.SplitRingLayout.USED_ELEMENT_LEN_OFFSET;
import static io.jvirtio.spec.ring.SplitRingLayout.USED_FLAGS_OFFSET;
import static io.jvirtio.spec.ring.SplitRingLayout.USED_IDX_OFFSET;
import static io.jvirtio.spec.ring.SplitRingLayout.VRING_AVAIL_F_NO_INTERRUPT;
import static io.jvirtio.spec.ring.SplitRingLayout.VRING_DESC_F_INDIRECT;
import static io.jvirtio.spec.ring.SplitRingLayout.VRING_DESC_F_NEXT;
import static io.jvirtio.spec.ring.SplitRingLayout.VRING_DESC_F_WRITE;
import static io.jvirtio.spec.ring.SplitRingLayout.VRING_USED_F_NO_NOTIFY;

/**
 * Test fixture: the device side of a split virtqueue, in the same process, over the same ring memory
 * (addresses are mapped with {@code MemorySegment.ofAddress(a).reinterpret(len)}, as a vhost-user back-end
 * maps guest memory). It consumes the avail ring, follows NEXT chains and INDIRECT tables by address,
 * hands each request's buffers to a {@link RequestHandler}, writes used elements and honours the
 * notification rules on both sides (EVENT_IDX fields, NO_NOTIFY / NO_INTERRUPT flags), counting kicks
 * received and interrupts it would have sent.
 *
 * <p>It checks the driver strictly: a spec violation by the driver (head out of range, chain loop,
 * INDIRECT with NEXT, nested INDIRECT, readable after writable, more avail than the queue size) throws
 * {@link IllegalStateException}. And it can misbehave on purpose ({@link #injectFault}).
 *
 * <p>Use it synchronously ({@link #process()} from the test thread) or on its own polling thread
 * ({@link #start()}, {@link #close()}); stop it before freeing the ring memory. Implements
 * {@link Notifier} so it can be given to the queue as its kick.
 */
public final class SimulatedDevice implements Notifier, AutoCloseable {
    /**
     * One buffer of a request, as the device sees it.
     *
     * @param address the device address from the descriptor
     * @param length  its length
     * @param segment the memory, mapped from the address
     */
    public record Buffer(long address, int length, MemorySegment segment) {
    }

    /** What the device does with a request. */
    @FunctionalInterface
    public interface RequestHandler {
        /**
         * @param readable the driver's device-readable buffers, in order
         * @param writable the device-writable buffers, in order
         * @return bytes written into the writable buffers (the used element's len)
         */
        int handle(List<Buffer> readable, List<Buffer> writable);
    }

    /** Ways to misbehave. All but {@link #STALL} apply once, to the next request completed. */
    public enum Fault {
        /** Behave. */
        NONE,
        /** Complete with an id >= queue size (default size + 4583; or the fault value). */
        ID_OUT_OF_RANGE,
        /**
         * Complete the request, then complete the same id again. Keep more requests in flight than
         * the device completes in that batch, or the driver sees a {@link #USED_INDEX_JUMP} first.
         */
        ID_NOT_IN_FLIGHT,
        /** Report one byte more than the writable bytes posted (or the fault value as len). */
        LEN_TOO_LARGE,
        /** Move used.idx by size + 1 more than completed (or by the fault value more; 65535 = backwards by one). */
        USED_INDEX_JUMP,
        /** Never complete anything (until the fault is cleared with NONE). */
        STALL,
        /**
         * After reading the batch, overwrite the whole descriptor table (and the indirect tables read) with
         * 0xFF. Use synchronously with every available request processed: later requests' descriptors go too.
         */
        SCRIBBLE_DESCRIPTORS
    }

    private static final VarHandle RING_INDEX = LE_SHORT.varHandle().withInvokeExactBehavior();
    private static final long DEFAULT_FAULT_VALUE = -1;
    private static final int OUT_OF_RANGE_ID_DELTA = 4583;
    private static final int AVAIL_EVENT_PARK_DISTANCE = 0x8000;
    private static final int SPINS_BEFORE_YIELD = 64;

    private final int size;
    private final int mask;
    private final boolean eventIdx;
    private final MemorySegment desc;
    private final MemorySegment avail;
    private final MemorySegment used;
    private final long usedEventOffset;
    private final long availEventOffset;
    private final int[] batchIds;
    private final int[] batchLens;
    private final long[] batchPosted;

    private final AtomicLong notifications = new AtomicLong();
    private final AtomicLong interrupts = new AtomicLong();
    private final AtomicLong completed = new AtomicLong();

    private volatile RequestHandler handler = echo();
    private volatile Fault fault = Fault.NONE;
    private volatile long faultValue = DEFAULT_FAULT_VALUE;
    private volatile boolean notificationsWanted = true;
    private volatile boolean reverseOrder;
    private volatile boolean processOnNotify;
    private volatile boolean running;
    private volatile Throwable failure;
    private Thread thread;

    private int lastAvailIdx;
    private int usedIdx;
    private final List<MemorySegment> indirectTablesSeen = new ArrayList<>();

    /**
     * @param size         the queue size
     * @param descAddress  the descriptor table's device address
     * @param availAddress the avail ring's device address
     * @param usedAddress  the used ring's device address
     * @param eventIdx     whether EVENT_IDX was negotiated
     */
    public SimulatedDevice(int size, long descAddress, long availAddress, long usedAddress, boolean eventIdx) {
        if (!SplitRingLayout.isValidSize(size)) {
            throw new IllegalArgumentException("queue size " + size);
        }
        this.size = size;
        this.mask = size - 1;
        this.eventIdx = eventIdx;
        this.desc = map(descAddress, (long) size * DESC_SIZE);
        this.avail = map(availAddress, SplitRingLayout.availBytes(size));
        this.used = map(usedAddress, SplitRingLayout.usedBytes(size));
        this.usedEventOffset = SplitRingLayout.usedEventOffset(size);
        this.availEventOffset = SplitRingLayout.availEventOffset(size);
        this.batchIds = new int[size + 1];
        this.batchLens = new int[size + 1];
        this.batchPosted = new long[size + 1];
        publishNotificationWish();
    }

    /**
     * Over a ring laid out by {@link SplitRingLayout} from the start of {@code ringMemory}.
     *
     * @param size       the queue size
     * @param ringMemory the ring allocation the driver uses
     * @param eventIdx   whether EVENT_IDX was negotiated
     */
    public SimulatedDevice(int size, MemorySegment ringMemory, boolean eventIdx) {
        this(size, ringMemory.address() + SplitRingLayout.descTableOffset(),
                ringMemory.address() + SplitRingLayout.availOffset(size),
                ringMemory.address() + SplitRingLayout.usedOffset(size), eventIdx);
    }

    /** @return a handler that copies the readable bytes into the writable buffers, in order, and returns the count */
    public static RequestHandler echo() {
        return (readable, writable) -> {
            int w = 0;
            long wOff = 0;
            int written = 0;
            for (Buffer in : readable) {
                long rOff = 0;
                while (rOff < in.length() && w < writable.size()) {
                    Buffer out = writable.get(w);
                    long n = Math.min(in.length() - rOff, out.length() - wOff);
                    MemorySegment.copy(in.segment(), rOff, out.segment(), wOff, n);
                    rOff += n;
                    wOff += n;
                    written += (int) n;
                    if (wOff == out.length()) {
                        w++;
                        wOff = 0;
                    }
                }
            }
            return written;
        };
    }

    /** @param handler what to do with each request from now on */
    public void handler(RequestHandler handler) {
        this.handler = Objects.requireNonNull(handler);
    }

    /** @param fault misbehave this way (default value for the fault) */
    public void injectFault(Fault fault) {
        injectFault(fault, DEFAULT_FAULT_VALUE);
    }

    /**
     * @param fault misbehave this way
     * @param value the bad id, len or used index jump (see {@link Fault}), -1 for the default
     */
    public void injectFault(Fault fault, long value) {
        this.faultValue = value;
        this.fault = Objects.requireNonNull(fault);
    }

    /**
     * Whether the device wants kicks. When not (a polling device): without EVENT_IDX used.flags gets
     * NO_NOTIFY, with it avail_event is parked half the 16-bit index space away from what it has consumed.
     *
     * @param wanted whether the driver should kick
     */
    public void notificationsWanted(boolean wanted) {
        notificationsWanted = wanted;
        publishNotificationWish();
    }

    /** @param reverse complete each batch in reverse order (out-of-order completion) */
    public void reverseOrder(boolean reverse) {
        reverseOrder = reverse;
    }

    /** @param process run {@link #process()} inside each kick */
    public void processOnNotify(boolean process) {
        processOnNotify = process;
    }

    @Override
    public void notifyQueue(Virtqueue vq) {
        notifications.incrementAndGet();
        if (processOnNotify) {
            process();
        }
    }

    /** @return kicks received */
    public long notifications() {
        return notifications.get();
    }

    /** @return interrupts the device would have sent (used_event / NO_INTERRUPT honoured) */
    public long interrupts() {
        return interrupts.get();
    }

    /** @return requests completed */
    public long completed() {
        return completed.get();
    }

    /** @return avail entries published by the driver and not consumed yet */
    public synchronized int pending() {
        return (availIdx() - lastAvailIdx) & RING_INDEX_MASK;
    }

    /** @return every request available, completed; see {@link #process(int)} */
    public int process() {
        return process(Integer.MAX_VALUE);
    }

    /**
     * Consumes up to {@code max} available requests, handles them and publishes their used elements in one
     * batch, then decides whether to interrupt.
     *
     * @param max most requests to take
     * @return requests completed
     * @throws IllegalStateException if the driver broke the spec
     */
    public synchronized int process(int max) {
        Fault f = fault;
        if (f == Fault.STALL) {
            return 0;
        }
        int availIdx = availIdx();
        int pending = (availIdx - lastAvailIdx) & RING_INDEX_MASK;
        if (pending > size) {
            throw new IllegalStateException("driver published " + pending + " avail entries, queue size " + size);
        }
        int count = Math.min(pending, max);
        if (count == 0) {
            return 0;
        }
        for (int i = 0; i < count; i++) {
            int head = avail.get(LE_SHORT, SplitRingLayout.availRingOffset(lastAvailIdx & mask)) & RING_INDEX_MASK;
            lastAvailIdx = (lastAvailIdx + 1) & RING_INDEX_MASK;
            if (head >= size) {
                throw new IllegalStateException("driver put head " + head + " in the avail ring, queue size " + size);
            }
            List<Buffer> readable = new ArrayList<>();
            List<Buffer> writable = new ArrayList<>();
            collect(head, readable, writable);
            batchIds[i] = head;
            batchLens[i] = handler.handle(readable, writable);
            long postedTotal = 0;
            for (Buffer b : readable) {
                postedTotal += b.length();
            }
            for (Buffer b : writable) {
                postedTotal += b.length();
            }
            batchPosted[i] = postedTotal;
        }
        int oldUsed = usedIdx;
        for (int k = 0; k < count; k++) {
            int i = reverseOrder ? count - 1 - k : k;
            int id = batchIds[i];
            int len = batchLens[i];
            boolean duplicate = false;
            if (f != Fault.NONE && f != Fault.USED_INDEX_JUMP && f != Fault.SCRIBBLE_DESCRIPTORS) {
                long v = faultValue;
                switch (f) {
                    case ID_OUT_OF_RANGE -> id = v == DEFAULT_FAULT_VALUE ? size + OUT_OF_RANGE_ID_DELTA : (int) v;
                    case LEN_TOO_LARGE -> len = v == DEFAULT_FAULT_VALUE ? (int) (batchPosted[i] + 1) : (int) v;
                    case ID_NOT_IN_FLIGHT -> duplicate = true;
                    default -> {
                    }
                }
                f = Fault.NONE;
                fault = Fault.NONE;
            }
            writeUsed(id, len);
            if (duplicate) {
                writeUsed(id, 0);
            }
        }
        int newUsed = usedIdx;
        if (f == Fault.USED_INDEX_JUMP) {
            long v = faultValue;
            usedIdx = (usedIdx + (v == DEFAULT_FAULT_VALUE ? size + 1 : (int) v)) & RING_INDEX_MASK;
            fault = Fault.NONE;
        }
        if (f == Fault.SCRIBBLE_DESCRIPTORS) {
            // Before used.idx moves, so the driver cannot have reused (and rewritten) these descriptors yet.
            scribble();
            fault = Fault.NONE;
        }
        completed.addAndGet(count);
        RING_INDEX.setRelease(used, (long) USED_IDX_OFFSET, (short) usedIdx);
        publishNotificationWish();
        // Our used.idx store before reading the driver's wish (the device half of the kick/interrupt race).
        VarHandle.fullFence();
        boolean signal;
        if (eventIdx) {
            int usedEvent = (short) RING_INDEX.getAcquire(avail, usedEventOffset) & RING_INDEX_MASK;
            signal = SplitRingLayout.needEvent(usedEvent, newUsed, oldUsed);
        } else {
            signal = ((short) RING_INDEX.getAcquire(avail, (long) AVAIL_FLAGS_OFFSET) & VRING_AVAIL_F_NO_INTERRUPT) == 0;
        }
        if (signal) {
            interrupts.incrementAndGet();
        }
        return count;
    }

    /**
     * Restarts the device at a ring position, like vhost-user SET_VRING_BASE after a reconnect: the
     * next avail entry it consumes and the next used element it writes are both at {@code index}.
     *
     * @param index the 16-bit ring index to resume from (the driver's {@code availIndex()})
     */
    public synchronized void resume(int index) {
        lastAvailIdx = index & RING_INDEX_MASK;
        usedIdx = index & RING_INDEX_MASK;
        publishNotificationWish();
    }

    /** Runs {@link #process()} on a daemon thread until {@link #close()}. */
    public synchronized void start() {
        if (thread != null) {
            throw new IllegalStateException("already started");
        }
        running = true;
        thread = Thread.ofPlatform().daemon().name("simulated-device").start(() -> {
            try {
                int idle = 0;
                while (running) {
                    if (process() > 0) {
                        idle = 0;
                    } else if (++idle < SPINS_BEFORE_YIELD) {
                        Thread.onSpinWait();
                    } else {
                        // Let the driver thread run on a machine with few cores.
                        Thread.yield();
                    }
                }
            } catch (Throwable t) {
                failure = t;
            }
        });
    }

    /** Stops the polling thread, if any, and rethrows what killed it. */
    @Override
    public void close() {
        Thread t;
        synchronized (this) {
            t = thread;
            thread = null;
        }
        running = false;
        if (t != null) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        Throwable f = failure;
        if (f != null) {
            throw new IllegalStateException("simulated device failed", f);
        }
    }

    private void collect(int head, List<Buffer> readable, List<Buffer> writable) {
        int d = head;
        for (int steps = 0; ; steps++) {
            if (steps >= size) {
                throw new IllegalStateException("descriptor chain from head " + head + " longer than queue size " + size + " (loop?)");
            }
            long off = SplitRingLayout.descOffset(d);
            long addr = desc.get(LE_LONG, off + DESC_ADDR_OFFSET);
            int len = desc.get(LE_INT, off + DESC_LEN_OFFSET);
            int flags = desc.get(LE_SHORT, off + DESC_FLAGS_OFFSET) & RING_INDEX_MASK;
            int next = desc.get(LE_SHORT, off + DESC_NEXT_OFFSET) & RING_INDEX_MASK;
            if ((flags & VRING_DESC_F_INDIRECT) != 0) {
                if ((flags & VRING_DESC_F_NEXT) != 0) {
                    throw new IllegalStateException("descriptor " + d + " has both INDIRECT and NEXT");
                }
                collectIndirect(head, addr, len, readable, writable);
                return;
            }
            add(addr, len, flags, readable, writable);
            if ((flags & VRING_DESC_F_NEXT) == 0) {
                return;
            }
            if (next >= size) {
                throw new IllegalStateException("descriptor " + d + " has next " + next + ", queue size " + size);
            }
            d = next;
        }
    }

    private void collectIndirect(int head, long address, int length, List<Buffer> readable, List<Buffer> writable) {
        if (length <= 0 || length % DESC_SIZE != 0 || length / DESC_SIZE > size) {
            throw new IllegalStateException("head " + head + ": indirect table of " + length + " bytes");
        }
        int entries = length / DESC_SIZE;
        MemorySegment table = map(address, length);
        if (fault == Fault.SCRIBBLE_DESCRIPTORS) {
            indirectTablesSeen.add(table);
        }
        int d = 0;
        for (int steps = 0; ; steps++) {
            if (steps >= entries) {
                throw new IllegalStateException("head " + head + ": indirect chain longer than its " + entries + " entries");
            }
            long off = SplitRingLayout.descOffset(d);
            int flags = table.get(LE_SHORT, off + DESC_FLAGS_OFFSET) & RING_INDEX_MASK;
            if ((flags & VRING_DESC_F_INDIRECT) != 0) {
                throw new IllegalStateException("head " + head + ": nested INDIRECT in entry " + d);
            }
            add(table.get(LE_LONG, off + DESC_ADDR_OFFSET), table.get(LE_INT, off + DESC_LEN_OFFSET), flags, readable, writable);
            if ((flags & VRING_DESC_F_NEXT) == 0) {
                return;
            }
            int next = table.get(LE_SHORT, off + DESC_NEXT_OFFSET) & RING_INDEX_MASK;
            if (next >= entries) {
                throw new IllegalStateException("head " + head + ": indirect entry " + d + " has next " + next + " of " + entries);
            }
            d = next;
        }
    }

    private static void add(long address, int length, int flags, List<Buffer> readable, List<Buffer> writable) {
        Buffer b = new Buffer(address, length, map(address, Integer.toUnsignedLong(length)));
        if ((flags & VRING_DESC_F_WRITE) != 0) {
            writable.add(b);
        } else {
            if (!writable.isEmpty()) {
                throw new IllegalStateException("device-readable buffer at 0x" + Long.toHexString(address) + " after a writable one");
            }
            readable.add(b);
        }
    }

    private void writeUsed(int id, int len) {
        long off = SplitRingLayout.usedRingOffset(usedIdx & mask);
        used.set(LE_INT, off + USED_ELEMENT_ID_OFFSET, id);
        used.set(LE_INT, off + USED_ELEMENT_LEN_OFFSET, len);
        usedIdx = (usedIdx + 1) & RING_INDEX_MASK;
    }

    private void scribble() {
        desc.fill((byte) 0xFF);
        for (MemorySegment table : indirectTablesSeen) {
            table.fill((byte) 0xFF);
        }
        indirectTablesSeen.clear();
    }

    private int availIdx() {
        return (short) RING_INDEX.getAcquire(avail, (long) AVAIL_IDX_OFFSET) & RING_INDEX_MASK;
    }

    private synchronized void publishNotificationWish() {
        if (eventIdx) {
            // Parked half the index space away: the driver's old..new avail range stays within size of what we
            // consumed, and we may already have consumed its newest entry, so "one behind" could still be hit.
            RING_INDEX.setRelease(used, availEventOffset,
                    (short) (notificationsWanted ? lastAvailIdx : lastAvailIdx + AVAIL_EVENT_PARK_DISTANCE));
        } else {
            RING_INDEX.setRelease(used, (long) USED_FLAGS_OFFSET, (short) (notificationsWanted ? 0 : VRING_USED_F_NO_NOTIFY));
        }
        VarHandle.fullFence();
    }

    /** Maps a device address like a vhost-user back-end maps guest memory: unchecked, it is a test device. */
    @SuppressWarnings("restricted")
    private static MemorySegment map(long address, long length) {
        return MemorySegment.ofAddress(address).reinterpret(length);
    }
}
