package io.jvirtio.core.ring;

import io.jvirtio.core.ring.SimulatedDevice.Buffer;
import io.jvirtio.core.ring.SimulatedDevice.RequestHandler;
import io.jvirtio.spec.ring.PackedRingLayout;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

import static io.jvirtio.spec.ring.PackedRingLayout.DESC_ADDR_OFFSET;
import static io.jvirtio.spec.ring.PackedRingLayout.DESC_FLAGS_OFFSET;
import static io.jvirtio.spec.ring.PackedRingLayout.DESC_ID_OFFSET;
import static io.jvirtio.spec.ring.PackedRingLayout.DESC_LEN_OFFSET;
import static io.jvirtio.spec.ring.PackedRingLayout.DESC_SIZE;
import static io.jvirtio.spec.ring.PackedRingLayout.EVENT_FLAGS_OFFSET;
import static io.jvirtio.spec.ring.PackedRingLayout.EVENT_OFF_WRAP_OFFSET;
import static io.jvirtio.spec.ring.PackedRingLayout.RING_EVENT_FLAGS_DESC;
import static io.jvirtio.spec.ring.PackedRingLayout.RING_EVENT_FLAGS_DISABLE;
import static io.jvirtio.spec.ring.PackedRingLayout.RING_EVENT_FLAGS_ENABLE;
import static io.jvirtio.spec.ring.PackedRingLayout.VIRTQ_DESC_F_AVAIL;
import static io.jvirtio.spec.ring.PackedRingLayout.VIRTQ_DESC_F_INDIRECT;
import static io.jvirtio.spec.ring.PackedRingLayout.VIRTQ_DESC_F_NEXT;
import static io.jvirtio.spec.ring.PackedRingLayout.VIRTQ_DESC_F_USED;
import static io.jvirtio.spec.ring.PackedRingLayout.VIRTQ_DESC_F_WRITE;
import static io.jvirtio.spec.ring.SplitRingLayout.LE_INT;
import static io.jvirtio.spec.ring.SplitRingLayout.LE_LONG;
import static io.jvirtio.spec.ring.SplitRingLayout.LE_SHORT;

/**
 * Test fixture: the device side of a packed virtqueue, written from the spec (virtio 1.2, 2.8) apart from
 * {@link PackedVirtqueue}: it takes available descriptors at its avail position (wrap counter, chains of
 * consecutive slots, INDIRECT tables of consecutive entries), hands each request's buffers to a
 * {@link RequestHandler}, writes one used descriptor per request at its used position (id from the
 * chain's last descriptor, flags AVAIL = USED = its used wrap counter, stored last with release) and
 * honours both event suppression structures, counting kicks and interrupts.
 *
 * <p>It checks the driver strictly (a chain longer than the queue, INDIRECT with NEXT, a nested
 * INDIRECT, readable after writable, an empty or oversized indirect table throw
 * {@link IllegalStateException}) and misbehaves on purpose ({@link #injectFault}). Same use as
 * {@link SimulatedDevice}: synchronous {@link #process()} or its own thread ({@link #start()}).
 */
public final class SimulatedPackedDevice implements Notifier, AutoCloseable {
    /** Ways to misbehave; all but {@link #STALL} apply once, to the next request completed. */
    public enum Fault {
        /** Behave. */
        NONE,
        /** Complete with buffer id >= queue size (default size + 4583, or the fault value, 16-bit). */
        ID_OUT_OF_RANGE,
        /** Complete the request, then write a second used descriptor with the same id. */
        ID_NOT_IN_FLIGHT,
        /** Report one byte more than every byte posted (or the fault value as len). */
        LEN_TOO_LARGE,
        /** After the batch, mark the next slot used as if one more request had completed (id of the last one). */
        USED_INDEX_JUMP,
        /** Write the used descriptor with AVAIL = USED = the wrong wrap counter (fault value 1: AVAIL != USED, wrong lap). */
        USED_FLAGS_INVALID,
        /** Never complete anything (until cleared with NONE). */
        STALL,
        /** Take the next batch but never complete its first request(s) (fault value: how many, default 1), as a device that dies. */
        LOSE_FIRST,
        /** After reading the batch, overwrite every slot and indirect table it read with 0xFF (used descriptors written after). */
        SCRIBBLE_DESCRIPTORS
    }

    private static final VarHandle U16 = LE_SHORT.varHandle().withInvokeExactBehavior();
    private static final long DEFAULT_FAULT_VALUE = -1;
    private static final int OUT_OF_RANGE_ID_DELTA = 4583;
    private static final int SPINS_BEFORE_YIELD = 64;

    private final int size;
    private final boolean eventIdx;
    private final MemorySegment ring;
    private final MemorySegment driverArea;
    private final MemorySegment deviceArea;
    private final int[] batchIds;
    private final int[] batchLens;
    private final int[] batchSlots;
    private final long[] batchPosted;

    private final AtomicLong notifications = new AtomicLong();
    private final AtomicLong interrupts = new AtomicLong();
    private final AtomicLong completed = new AtomicLong();

    private volatile RequestHandler handler = SimulatedDevice.echo();
    private volatile Fault fault = Fault.NONE;
    private volatile long faultValue = DEFAULT_FAULT_VALUE;
    private volatile boolean notificationsWanted = true;
    private volatile boolean reverseOrder;
    private volatile boolean processOnNotify;
    private volatile boolean running;
    private volatile Throwable failure;
    private Thread thread;

    private int availSlot;
    private boolean availWrap = true;
    private int usedSlot;
    private boolean usedWrap = true;
    private final List<MemorySegment> scribbleLater = new ArrayList<>();

    /**
     * @param size          the queue size
     * @param descAddress   the descriptor ring
     * @param driverAddress the driver event suppression structure
     * @param deviceAddress the device event suppression structure
     * @param eventIdx      whether EVENT_IDX was negotiated
     */
    public SimulatedPackedDevice(int size, long descAddress, long driverAddress, long deviceAddress, boolean eventIdx) {
        if (!PackedRingLayout.isValidSize(size)) {
            throw new IllegalArgumentException("queue size " + size);
        }
        this.size = size;
        this.eventIdx = eventIdx;
        this.ring = map(descAddress, (long) size * DESC_SIZE);
        this.driverArea = map(driverAddress, PackedRingLayout.EVENT_SUPPRESS_SIZE);
        this.deviceArea = map(deviceAddress, PackedRingLayout.EVENT_SUPPRESS_SIZE);
        this.batchIds = new int[size + 1];
        this.batchLens = new int[size + 1];
        this.batchSlots = new int[size + 1];
        this.batchPosted = new long[size + 1];
        publishNotificationWish();
    }

    /** Over a ring laid out by {@link PackedRingLayout} from the start of {@code ringMemory}. */
    public SimulatedPackedDevice(int size, MemorySegment ringMemory, boolean eventIdx) {
        this(size, ringMemory.address(), ringMemory.address() + PackedRingLayout.driverAreaOffset(size),
                ringMemory.address() + PackedRingLayout.deviceAreaOffset(size), eventIdx);
    }

    /** @param handler what to do with each request from now on */
    public void handler(RequestHandler handler) {
        this.handler = Objects.requireNonNull(handler);
    }

    /** @param fault misbehave this way (default value) */
    public void injectFault(Fault fault) {
        injectFault(fault, DEFAULT_FAULT_VALUE);
    }

    /**
     * @param fault misbehave this way
     * @param value the bad id or len (see {@link Fault}), -1 for the default
     */
    public void injectFault(Fault fault, long value) {
        this.faultValue = value;
        this.fault = Objects.requireNonNull(fault);
    }

    /** Whether the device wants kicks: DISABLE when not; ENABLE, or DESC at its avail position with EVENT_IDX. */
    public synchronized void notificationsWanted(boolean wanted) {
        notificationsWanted = wanted;
        publishNotificationWish();
    }

    /** @param reverse complete each batch in reverse order */
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

    /** @return interrupts the device would have sent (driver event suppression honoured) */
    public long interrupts() {
        return interrupts.get();
    }

    /** @return requests completed */
    public long completed() {
        return completed.get();
    }

    /** @return the device's next avail position as vhost-user's vring base (slot, wrap in bit 15) */
    public synchronized int availBase() {
        return PackedRingLayout.offWrap(availSlot, availWrap);
    }

    /** @return every request available, completed */
    public int process() {
        return process(Integer.MAX_VALUE);
    }

    /**
     * Takes up to {@code max} available requests, handles them, writes their used descriptors (each one's
     * flags last, with release), then decides whether to interrupt.
     *
     * @return requests completed
     */
    public synchronized int process(int max) {
        Fault f = fault;
        if (f == Fault.STALL) {
            return 0;
        }
        int count = 0;
        int slotsTaken = 0;
        while (count < max && slotsTaken < size && isAvail(availSlot, availWrap)) {
            List<Buffer> readable = new ArrayList<>();
            List<Buffer> writable = new ArrayList<>();
            int[] idOut = new int[1];
            int slots = collect(readable, writable, idOut);
            batchIds[count] = idOut[0];
            batchSlots[count] = slots;
            batchLens[count] = handler.handle(readable, writable);
            long posted = 0;
            for (Buffer b : readable) {
                posted += b.length();
            }
            for (Buffer b : writable) {
                posted += b.length();
            }
            batchPosted[count] = posted;
            slotsTaken += slots;
            count++;
        }
        if (count == 0) {
            return 0;
        }
        if (f == Fault.SCRIBBLE_DESCRIPTORS) {
            for (MemorySegment s : scribbleLater) {
                s.fill((byte) 0xFF);
            }
            scribbleLater.clear();
            fault = Fault.NONE;
            f = Fault.NONE;
        }
        int advanced = 0;
        int lost = 0;
        if (f == Fault.LOSE_FIRST) {
            lost = faultValue == DEFAULT_FAULT_VALUE ? 1 : (int) faultValue;
            fault = Fault.NONE;
            f = Fault.NONE;
        }
        for (int k = 0; k < count; k++) {
            int i = reverseOrder ? count - 1 - k : k;
            if (i < lost) {
                continue;
            }
            int id = batchIds[i];
            int len = batchLens[i];
            int flags = PackedRingLayout.usedFlags(usedWrap);
            boolean duplicate = false;
            if (f != Fault.NONE && f != Fault.USED_INDEX_JUMP) {
                long v = faultValue;
                switch (f) {
                    case ID_OUT_OF_RANGE -> id = v == DEFAULT_FAULT_VALUE ? size + OUT_OF_RANGE_ID_DELTA : (int) v;
                    case LEN_TOO_LARGE -> len = v == DEFAULT_FAULT_VALUE ? (int) (batchPosted[i] + 1) : (int) v;
                    case ID_NOT_IN_FLIGHT -> duplicate = true;
                    case USED_FLAGS_INVALID -> flags = v == 1 ? PackedRingLayout.availFlags(!usedWrap)
                            : PackedRingLayout.usedFlags(!usedWrap);
                    default -> {
                    }
                }
                f = Fault.NONE;
                fault = Fault.NONE;
            }
            advanced += writeUsed(id, len, flags, batchSlots[i]);
            if (duplicate) {
                advanced += writeUsed(id, 0, PackedRingLayout.usedFlags(usedWrap), batchSlots[i]);
            }
        }
        if (f == Fault.USED_INDEX_JUMP) {
            writeUsed(batchIds[count - 1], 0, PackedRingLayout.usedFlags(usedWrap), 1);
            fault = Fault.NONE;
        }
        completed.addAndGet(count - Math.min(lost, count));
        publishNotificationWish();
        VarHandle.fullFence();
        int event = (int) LE_INT.varHandle().getAcquire(driverArea, 0L);
        int flags = event >>> 16;
        boolean signal;
        if (flags == RING_EVENT_FLAGS_DESC) {
            int newUsed = usedSlot;
            signal = PackedRingLayout.needEvent(event & 0xFFFF, usedWrap, newUsed, newUsed - advanced, size);
        } else {
            signal = flags == RING_EVENT_FLAGS_ENABLE;
        }
        if (signal) {
            interrupts.incrementAndGet();
        }
        return count;
    }

    /**
     * Restarts the device at a ring position, as vhost-user SET_VRING_BASE does for a packed ring (DPDK
     * sets the avail and the used position from it).
     *
     * @param base slot in bits 0..14, wrap counter in bit 15
     */
    public synchronized void resume(int base) {
        availSlot = base & PackedRingLayout.RING_EVENT_OFFSET_MASK;
        availWrap = (base >>> PackedRingLayout.RING_EVENT_WRAP_SHIFT & 1) != 0;
        usedSlot = availSlot;
        usedWrap = availWrap;
        publishNotificationWish();
    }

    /** Runs {@link #process()} on a daemon thread until {@link #close()}. */
    public synchronized void start() {
        if (thread != null) {
            throw new IllegalStateException("already started");
        }
        running = true;
        thread = Thread.ofPlatform().daemon().name("simulated-packed-device").start(() -> {
            try {
                int idle = 0;
                while (running) {
                    if (process() > 0) {
                        idle = 0;
                    } else if (++idle < SPINS_BEFORE_YIELD) {
                        Thread.onSpinWait();
                    } else {
                        Thread.yield();
                    }
                }
            } catch (Throwable t) {
                failure = t;
            }
        });
    }

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
            throw new IllegalStateException("simulated packed device failed", f);
        }
    }

    private boolean isAvail(int slot, boolean wrap) {
        int flags = (short) U16.getAcquire(ring, PackedRingLayout.descOffset(slot) + DESC_FLAGS_OFFSET) & 0xFFFF;
        boolean avail = (flags & VIRTQ_DESC_F_AVAIL) != 0;
        boolean used = (flags & VIRTQ_DESC_F_USED) != 0;
        return avail == wrap && used != wrap;
    }

    /** Reads one request from the avail position on; @return the slots it took. */
    private int collect(List<Buffer> readable, List<Buffer> writable, int[] idOut) {
        int first = availSlot;
        for (int slots = 1; ; slots++) {
            if (slots > size) {
                throw new IllegalStateException("chain from slot " + first + " longer than queue size " + size);
            }
            long off = PackedRingLayout.descOffset(availSlot);
            long addr = ring.get(LE_LONG, off + DESC_ADDR_OFFSET);
            int len = ring.get(LE_INT, off + DESC_LEN_OFFSET);
            int id = ring.get(LE_SHORT, off + DESC_ID_OFFSET) & 0xFFFF;
            int flags = ring.get(LE_SHORT, off + DESC_FLAGS_OFFSET) & 0xFFFF;
            if (slots > 1 && !isAvail(availSlot, availWrap)) {
                throw new IllegalStateException("chain from slot " + first + ": slot " + availSlot + " not available (flags 0x"
                        + Integer.toHexString(flags) + ")");
            }
            if (fault == Fault.SCRIBBLE_DESCRIPTORS) {
                scribbleLater.add(ring.asSlice(off, DESC_ADDR_OFFSET + Long.BYTES + Integer.BYTES));
            }
            if (++availSlot == size) {
                availSlot = 0;
                availWrap = !availWrap;
            }
            if ((flags & VIRTQ_DESC_F_INDIRECT) != 0) {
                if ((flags & VIRTQ_DESC_F_NEXT) != 0) {
                    throw new IllegalStateException("slot " + off / DESC_SIZE + " has both INDIRECT and NEXT");
                }
                collectIndirect(first, addr, len, readable, writable);
            } else {
                add(addr, len, flags, readable, writable);
            }
            if ((flags & VIRTQ_DESC_F_NEXT) == 0) {
                idOut[0] = id;
                return slots;
            }
        }
    }

    private void collectIndirect(int first, long address, int length, List<Buffer> readable, List<Buffer> writable) {
        if (length <= 0 || length % DESC_SIZE != 0 || length / DESC_SIZE > size) {
            throw new IllegalStateException("slot " + first + ": indirect table of " + length + " bytes");
        }
        MemorySegment table = map(address, length);
        if (fault == Fault.SCRIBBLE_DESCRIPTORS) {
            scribbleLater.add(table);
        }
        for (int d = 0; d < length / DESC_SIZE; d++) {
            long off = PackedRingLayout.descOffset(d);
            int flags = table.get(LE_SHORT, off + DESC_FLAGS_OFFSET) & 0xFFFF;
            if ((flags & VIRTQ_DESC_F_INDIRECT) != 0) {
                throw new IllegalStateException("slot " + first + ": nested INDIRECT in entry " + d);
            }
            add(table.get(LE_LONG, off + DESC_ADDR_OFFSET), table.get(LE_INT, off + DESC_LEN_OFFSET), flags, readable, writable);
        }
    }

    private static void add(long address, int length, int flags, List<Buffer> readable, List<Buffer> writable) {
        Buffer b = new Buffer(address, length, map(address, Integer.toUnsignedLong(length)));
        if ((flags & VIRTQ_DESC_F_WRITE) != 0) {
            writable.add(b);
        } else {
            if (!writable.isEmpty()) {
                throw new IllegalStateException("device-readable buffer at 0x" + Long.toHexString(address) + " after a writable one");
            }
            readable.add(b);
        }
    }

    /** Writes one used descriptor at the used position, flags last; @return the slots the used position moved. */
    private int writeUsed(int id, int len, int flags, int slots) {
        long off = PackedRingLayout.descOffset(usedSlot);
        ring.set(LE_SHORT, off + DESC_ID_OFFSET, (short) id);
        ring.set(LE_INT, off + DESC_LEN_OFFSET, len);
        U16.setRelease(ring, off + DESC_FLAGS_OFFSET, (short) flags);
        usedSlot += slots;
        if (usedSlot >= size) {
            usedSlot -= size;
            usedWrap = !usedWrap;
        }
        return slots;
    }

    private void publishNotificationWish() {
        int flags;
        if (!notificationsWanted) {
            flags = RING_EVENT_FLAGS_DISABLE;
        } else if (eventIdx) {
            deviceArea.set(LE_SHORT, (long) EVENT_OFF_WRAP_OFFSET, (short) PackedRingLayout.offWrap(availSlot, availWrap));
            flags = RING_EVENT_FLAGS_DESC;
        } else {
            flags = RING_EVENT_FLAGS_ENABLE;
        }
        U16.setRelease(deviceArea, (long) EVENT_FLAGS_OFFSET, (short) flags);
        VarHandle.fullFence();
    }

    @SuppressWarnings("restricted")
    private static MemorySegment map(long address, long length) {
        return MemorySegment.ofAddress(address).reinterpret(length);
    }
}
