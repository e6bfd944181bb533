package io.jvirtio.backend.ring;

import io.jvirtio.sys.Native;
import io.jvirtio.backend.fault.UsedRingFault;
import io.jvirtio.backend.mem.GuestMemory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;

import static io.jvirtio.spec.ring.SplitRingLayout.*;

import io.jvirtio.spec.ring.PackedRingLayout;

/**
 * The device side of one running virtqueue, split or packed: pops available chains as {@link QueueRequest}s
 * (on the queue's thread) and publishes completions on the used ring (from any thread), signalling
 * the driver's call eventfd when it asked for it (EVENT_IDX {@code used_event}, or
 * {@code VRING_AVAIL_F_NO_INTERRUPT}; packed: the driver event suppression structure). A packed ring's
 * requests are indexed by buffer id; its used descriptors go to the used position, which then skips
 * the request's slots.
 *
 * <p>Nothing read from the ring is trusted: an avail index that runs ahead by more than the queue
 * size, a head out of range or already in flight, and every chain error end the connection with a
 * {@link DriverRingException}.
 *
 * <p>Threads: {@link #pop} and the notification switches run on the queue thread only; the used
 * side is guarded by {@code usedLock}. Both touch front-end memory only under the memory read lock,
 * which the owner of the memory table takes for writing before it changes mappings.
 */
public final class DeviceQueue {
    private static final Logger LOG = LoggerFactory.getLogger(DeviceQueue.class);

    private final VringSetup setup;
    private final String name;
    private final QueueHost host;
    private final QueueRequest[] requests;
    private final Object usedLock = new Object();
    private final ArrayDeque<Integer> resubmit = new ArrayDeque<>();

    private volatile SplitRing ring;
    /** The packed ring, or null for a split one. */
    private volatile PackedRing packedRing;
    private volatile GuestMemory memory;
    private final InflightQueue inflightLog;
    private final PackedInflightQueue packedLog;
    /** A packed chain copied back from the inflight area, for the chain reader (made once, resubmission only). */
    private MemorySegment resubmitChain;

    // queue thread only
    private int lastAvail;
    private int availSlot;
    private boolean availWrap;
    // guarded by usedLock
    private int usedIdx;
    private int usedSlot;
    private boolean usedWrap;
    private int unsignalledSlots;
    private int inFlight;
    private int signalledUsed;
    private boolean signalledValid;
    private int callFd;
    private boolean stopped;
    private Thread batchThread;
    private boolean pendingSignal;
    private long completed;

    /**
     * Creates the queue over translated ring memory and reads where the driver's used index stands.
     *
     * @param setup     the ring's configuration
     * @param memory    the memory table
     * @param callFd    the call eventfd (owned by the caller), or -1 when the driver polls
     * @param inflight  this queue's INFLIGHT_SHMFD region in the split format, or null
     * @param host      the connection
     * @throws IllegalArgumentException naming the ring part that is misaligned or outside the memory table
     */
    public DeviceQueue(VringSetup setup, GuestMemory memory, int callFd, InflightQueue inflight, QueueHost host) {
        this(setup, memory, callFd, inflight, null, host);
    }

    /**
     * Creates the queue over translated ring memory and reads where the driver's used index stands.
     *
     * @param setup        the ring's configuration
     * @param memory       the memory table
     * @param callFd       the call eventfd (owned by the caller), or -1 when the driver polls
     * @param inflight     this queue's INFLIGHT_SHMFD region in the split format (split rings), or null
     * @param packedInflight this queue's region in the packed format (packed rings), or null
     * @param host         the connection
     * @throws IllegalArgumentException naming the ring part that is misaligned or outside the memory
     *                                  table, or the field of the inflight region that is out of range
     */
    public DeviceQueue(VringSetup setup, GuestMemory memory, int callFd, InflightQueue inflight, PackedInflightQueue packedInflight,
            QueueHost host) {
        this.setup = setup;
        this.host = host;
        this.name = host.name() + " queue " + setup.index();
        this.memory = memory;
        this.callFd = callFd;
        this.requests = new QueueRequest[setup.size()];
        for (int i = 0; i < requests.length; i++) {
            requests[i] = new QueueRequest(this, i);
        }
        if (setup.packed()) {
            this.inflightLog = null;
            this.packedLog = packedInflight;
            this.packedRing = translatePacked(setup, memory);
            // DPDK's SET_VRING_BASE for a packed ring: the avail and the used position both start there.
            availSlot = setup.base() & PackedRingLayout.RING_EVENT_OFFSET_MASK;
            availWrap = (setup.base() >>> PackedRingLayout.RING_EVENT_WRAP_SHIFT & 1) != 0;
            if (availSlot >= setup.size()) {
                throw new IllegalArgumentException("queue " + setup.index() + " packed base 0x" + Integer.toHexString(setup.base())
                        + " names slot " + availSlot + " of a ring of " + setup.size());
            }
            usedSlot = availSlot;
            usedWrap = availWrap;
            if (packedInflight != null) {
                restartFromInflight(packedInflight);
            }
            enableNotification();
            return;
        }
        this.packedLog = null;
        this.ring = translate(setup, memory);
        this.inflightLog = inflight;
        this.lastAvail = setup.base() & RING_INDEX_MASK;
        this.usedIdx = ring.usedIdx();
        this.signalledUsed = usedIdx;
        if (inflight != null) {
            List<Integer> heads = inflight.start(usedIdx);
            for (int h : heads) {
                if (h < requests.length) {
                    resubmit.add(h);
                }
            }
            if (!heads.isEmpty()) {
                // as libvhost-user: everything up to the resubmitted heads was popped before
                lastAvail = (usedIdx + resubmit.size()) & RING_INDEX_MASK;
                LOG.info("{}: resubmitting {} in-flight request(s) from the inflight region, avail index {}", name, resubmit.size(), lastAvail);
            }
        }
        ring.setUsedFlags(0);
        if (setup.eventIdx()) {
            ring.setAvailEvent(lastAvail);
        }
    }

    /**
     * A packed ring with an inflight area: where the dead back-end's completions stopped is in the
     * area, not in the ring (a packed ring has no index in memory, and QEMU's SET_VRING_BASE after a
     * back-end crash is its own stale avail position), so the used position comes from there, as
     * SPDK does ({@code rte_vhost_get_vring_base_from_inflight}). The chains still in flight are taken
     * again first; they occupy the slots after the used position (the driver made them available in
     * that order, and jvirtio's replay rewrites them there), so the avail position starts past them.
     */
    private void restartFromInflight(PackedInflightQueue log) {
        PackedInflightQueue.Restart r = log.start(packedRing, usedSlot, usedWrap);
        if (r.usedSlot() != usedSlot || r.usedWrap() != usedWrap) {
            LOG.info("{}: SET_VRING_BASE said 0x{}, the inflight region says used position 0x{}; starting from the region", name,
                    Integer.toHexString(setup.base()), Integer.toHexString(PackedRingLayout.offWrap(r.usedSlot(), r.usedWrap())));
        }
        usedSlot = r.usedSlot();
        usedWrap = r.usedWrap();
        availSlot = usedSlot + r.resubmitSlots();
        availWrap = usedWrap;
        if (availSlot >= setup.size()) {
            availSlot -= setup.size();
            availWrap = !availWrap;
        }
        resubmit.addAll(r.resubmit());
        if (!r.resubmit().isEmpty()) {
            resubmitChain = MemorySegment.ofArray(new long[setup.size() * PackedRingLayout.DESC_SIZE / Long.BYTES]);
            LOG.info("{}: resubmitting {} in-flight request(s) from the inflight region, avail position 0x{}", name, resubmit.size(),
                    Integer.toHexString(PackedRingLayout.offWrap(availSlot, availWrap)));
        }
    }

    /**
     * Maps the ring's three parts through the memory table.
     *
     * @throws IllegalArgumentException naming the part, its address and size
     */
    static SplitRing translate(VringSetup s, GuestMemory memory) {
        int size = s.size();
        MemorySegment desc = part(s, memory, "descriptor table", s.descUva(), SplitRing.descBytes(size), SplitRing.DESC_ALIGN);
        MemorySegment avail = part(s, memory, "avail ring", s.availUva(), SplitRing.availBytes(size), SplitRing.AVAIL_ALIGN);
        MemorySegment used = part(s, memory, "used ring", s.usedUva(), SplitRing.usedBytes(size), SplitRing.USED_ALIGN);
        return new SplitRing(size, desc, avail, used);
    }

    /** Maps a packed ring's descriptor ring and event suppression structures through the memory table. */
    static PackedRing translatePacked(VringSetup s, GuestMemory memory) {
        int size = s.size();
        MemorySegment desc = part(s, memory, "descriptor ring", s.descUva(), PackedRing.descBytes(size), PackedRing.DESC_ALIGN);
        MemorySegment driver = part(s, memory, "driver area", s.availUva(), PackedRingLayout.EVENT_SUPPRESS_SIZE, PackedRing.EVENT_ALIGN);
        MemorySegment device = part(s, memory, "device area", s.usedUva(), PackedRingLayout.EVENT_SUPPRESS_SIZE, PackedRing.EVENT_ALIGN);
        return new PackedRing(size, desc, driver, device);
    }

    /**
     * Checks that a ring's parts are aligned and covered by {@code memory}, without keeping anything.
     *
     * @throws IllegalArgumentException naming the part, its address and size
     */
    public static void checkCovered(VringSetup s, GuestMemory memory) {
        if (s.packed()) {
            translatePacked(s, memory);
        } else {
            translate(s, memory);
        }
    }

    private static MemorySegment part(VringSetup s, GuestMemory memory, String what, long uva, long len, int align) {
        if ((uva & (align - 1)) != 0) {
            throw new IllegalArgumentException("queue " + s.index() + " " + what + " address 0x" + Long.toHexString(uva) + " is not " + align
                    + "-byte aligned");
        }
        MemorySegment seg = memory.uva(uva, len);
        if (seg == null) {
            throw new IllegalArgumentException("queue " + s.index() + " " + what + " [0x" + Long.toHexString(uva) + ", +" + len
                    + ") is not inside one region of the memory table (" + memory.size() + " region(s))");
        }
        return seg;
    }

    /** @return the queue index */
    public int index() {
        return setup.index();
    }

    /** @return the queue size */
    public int size() {
        return setup.size();
    }

    /** @return the ring's configuration */
    public VringSetup setup() {
        return setup;
    }

    /**
     * Switches to a new memory table (the caller holds the memory write lock).
     *
     * @throws IllegalArgumentException when the ring is no longer covered
     */
    public void remap(GuestMemory newMemory) {
        if (setup.packed()) {
            PackedRing p = translatePacked(setup, newMemory);
            this.memory = newMemory;
            this.packedRing = p;
            return;
        }
        SplitRing r = translate(setup, newMemory);
        this.memory = newMemory;
        this.ring = r;
    }

    // ------------------------------------------------------------------ queue thread

    /** @return whether the driver made chains available that were not popped yet */
    boolean hasAvailable() {
        if (packedRing != null) {
            return !resubmit.isEmpty() || packedRing.isAvail(availSlot, availWrap);
        }
        return !resubmit.isEmpty() || ring.availIdxAcquire() != lastAvail;
    }

    /**
     * Pops the next available chain.
     *
     * @return the request, or null when nothing is available
     * @throws DriverRingException when the driver broke the ring's rules
     */
    QueueRequest pop() {
        if (packedRing != null) {
            return popPacked();
        }
        SplitRing r = ring;
        int head;
        boolean fromLog = false;
        if (!resubmit.isEmpty()) {
            head = resubmit.poll();
            fromLog = true;
        } else {
            int availIdx = r.availIdxAcquire();
            int pending = (availIdx - lastAvail) & RING_INDEX_MASK;
            if (pending == 0) {
                return null;
            }
            if (pending > r.size()) {
                throw new DriverRingException(name + ": avail.idx moved to " + availIdx + " while the device was at " + lastAvail + ": "
                        + pending + " entries, more than the queue size " + r.size());
            }
            head = r.availHead(lastAvail);
            if (head >= r.size()) {
                throw new DriverRingException(name + ": avail ring entry " + lastAvail + " holds head " + head + ", beyond the queue size "
                        + r.size());
            }
            lastAvail = (lastAvail + 1) & RING_INDEX_MASK;
        }
        QueueRequest req = requests[head];
        synchronized (usedLock) {
            if (req.inFlight) {
                throw new DriverRingException(name + ": head " + head + " made available again while the device still holds it");
            }
        }
        req.reset();
        ChainReader.read(name, r.descTable(), r.size(), head, memory, setup.indirect(), req);
        synchronized (usedLock) {
            req.inFlight = true;
            inFlight++;
        }
        if (inflightLog != null && !fromLog) {
            inflightLog.popped(head);
        }
        return req;
    }

    /** A packed ring's next request: the chain at the avail position, named by the buffer id of its last descriptor. */
    private QueueRequest popPacked() {
        PackedRing r = packedRing;
        if (!resubmit.isEmpty()) {
            return resubmitPacked(resubmit.poll());
        }
        if (!r.isAvail(availSlot, availWrap)) {
            return null;
        }
        int scanned = PackedChainReader.scan(name, r, availSlot, availWrap);
        int slots = scanned & 0xFFFF;
        QueueRequest req = claimPacked(scanned >>> 16, -1, r.descRing(), r.size(), availSlot, slots);
        int slot = availSlot;
        availSlot += slots;
        if (availSlot >= r.size()) {
            availSlot -= r.size();
            availWrap = !availWrap;
        }
        synchronized (usedLock) {
            req.inFlight = true;
            inFlight++;
            // under usedLock: completions put entries back on the same free list
            req.inflightEntry = packedLog != null ? taken(r, slot, slots) : -1;
        }
        return req;
    }

    private int taken(PackedRing r, int slot, int slots) {
        try {
            return packedLog.taken(r.descRing(), r.size(), slot, slots);
        } catch (IllegalArgumentException e) {
            throw new DriverRingException(name + ": " + e.getMessage());
        }
    }

    /** A chain the dead back-end had taken, read from its copy in the inflight area (the ring slots may be reused). */
    private QueueRequest resubmitPacked(int entry) {
        int slots;
        int id;
        try {
            slots = packedLog.slotsOf(entry);
            id = packedLog.copyChain(entry, resubmitChain);
        } catch (IllegalArgumentException e) {
            throw new DriverRingException(name + ": " + e.getMessage());
        }
        QueueRequest req = claimPacked(id, entry, resubmitChain, slots, 0, slots);
        synchronized (usedLock) {
            req.inFlight = true;
            inFlight++;
            req.inflightEntry = entry;
        }
        return req;
    }

    /**
     * Reads the {@code slots} descriptors from {@code slot} of {@code desc} (the ring itself, or a chain
     * copied back from the inflight area) into the request of buffer id {@code id}, which must not be in
     * flight.
     *
     * @param entry the inflight entry the chain was copied from, or -1 for the ring's chain at {@code slot}
     *              (it only names the chain in an error, and the message is built only when thrown)
     */
    private QueueRequest claimPacked(int id, int entry, MemorySegment desc, int size, int slot, int slots) {
        if (id >= requests.length) {
            throw new DriverRingException(name + ": " + (entry < 0 ? "packed chain at slot " + slot : "inflight entry " + entry)
                    + " has buffer id " + id + ", beyond the queue size " + requests.length);
        }
        QueueRequest req = requests[id];
        synchronized (usedLock) {
            if (req.inFlight) {
                throw new DriverRingException(name + (entry < 0 ? ": buffer id " + id + " made available again while the device still holds it"
                        : ": inflight entry " + entry + " names buffer id " + id + ", which is in flight already"));
            }
        }
        req.reset();
        PackedChainReader.fill(name, desc, size, slot, slots, memory, setup.indirect(), req);
        req.ringSlots = slots;
        return req;
    }

    /** Stops the driver's kicks while the queue thread is busy anyway (no-op with EVENT_IDX: avail_event does it). */
    void disableNotification() {
        if (packedRing != null) {
            packedRing.setDeviceEvent(0, PackedRingLayout.RING_EVENT_FLAGS_DISABLE);
            return;
        }
        if (!setup.eventIdx()) {
            ring.setUsedFlags(VRING_USED_F_NO_NOTIFY);
        }
    }

    /**
     * Asks the driver to kick for the next chain, then fences so that the caller's re-check of the
     * avail index cannot be ordered before this write (the lost-wake-up race).
     */
    void enableNotification() {
        if (packedRing != null) {
            if (setup.eventIdx()) {
                packedRing.setDeviceEvent(PackedRingLayout.offWrap(availSlot, availWrap), PackedRingLayout.RING_EVENT_FLAGS_DESC);
            } else {
                packedRing.setDeviceEvent(0, PackedRingLayout.RING_EVENT_FLAGS_ENABLE);
            }
            SplitRing.fullFence();
            return;
        }
        if (setup.eventIdx()) {
            ring.setAvailEvent(lastAvail);
        } else {
            ring.setUsedFlags(0);
        }
        SplitRing.fullFence();
    }

    /**
     * @return the next avail index the device will pop (for GET_VRING_BASE, after the thread stopped); packed:
     *         the avail slot with the avail wrap counter in bit 15, as DPDK answers
     */
    public int lastAvail() {
        return packedRing != null ? PackedRingLayout.offWrap(availSlot, availWrap) : lastAvail;
    }

    /** Marks the start of a batch on the queue thread: its completions signal once, at {@link #endBatch}. */
    void beginBatch() {
        synchronized (usedLock) {
            batchThread = Thread.currentThread();
        }
    }

    /** Ends a batch: signals the driver once for everything completed in it, if it asked. */
    void endBatch() {
        synchronized (usedLock) {
            batchThread = null;
            if (pendingSignal) {
                pendingSignal = false;
                signalIfNeeded();
            }
        }
    }

    // ------------------------------------------------------------------ used side (any thread)

    /** Publishes a completion (see {@link io.jvirtio.backend.device.DeviceRequest#complete}). */
    void complete(QueueRequest req, int bytesWritten) {
        long delay = host.faults().completionDelayNanos();
        if (delay > 0 && !req.delayed) {
            req.delayed = true;
            host.scheduler().schedule(() -> complete(req, bytesWritten), delay, TimeUnit.NANOSECONDS);
            return;
        }
        Lock lock = host.memoryLock().readLock();
        lock.lock();
        try {
            synchronized (usedLock) {
                if (stopped) {
                    LOG.debug("{}: completion of head {} dropped, the queue stopped", name, req.head());
                    return;
                }
                if (!req.inFlight) {
                    LOG.error("{}: head {} completed twice by the device model; second completion ignored", name, req.head());
                    return;
                }
                publish(req, bytesWritten);
            }
        } finally {
            lock.unlock();
        }
    }

    private void publish(QueueRequest req, int bytesWritten) {
        if (packedRing != null) {
            publishPacked(req, bytesWritten);
            return;
        }
        SplitRing r = ring;
        long len = Integer.toUnsignedLong(bytesWritten);
        if (len > req.writableBytes()) {
            LOG.error("{}: device model reported {} bytes written for head {}, which has {} writable; clamped", name, len, req.head(),
                    req.writableBytes());
            len = req.writableBytes();
        }
        int id = req.head();
        int advance = 1;
        UsedRingFault fault = host.faults().takeUsedFault(setup.index());
        if (fault != null) {
            switch (fault) {
                case ID_OUT_OF_RANGE -> id = r.size() + 7;
                case ID_NOT_IN_FLIGHT -> id = idNotInFlight(req.head());
                case LEN_TOO_LARGE -> len = req.readableBytes() + req.writableBytes() + 4096; // past every byte posted
                case USED_INDEX_JUMP -> advance = r.size() + 1;
            }
            LOG.warn("{}: injected fault {}: used element id={} len={} for head {}", name, fault, id, len, req.head());
        }
        if (inflightLog != null) {
            inflightLog.prePut(req.head());
        }
        r.writeUsedElement(usedIdx, id, (int) len);
        usedIdx = (usedIdx + advance) & RING_INDEX_MASK;
        r.publishUsedIdx(usedIdx);
        req.inFlight = false;
        inFlight--;
        completed++;
        if (inflightLog != null) {
            inflightLog.postPut(req.head(), usedIdx);
        }
        if (batchThread == Thread.currentThread()) {
            pendingSignal = true;
        } else {
            signalIfNeeded();
        }
    }

    /** A packed completion: one used descriptor at the used position, which then skips the request's slots. Caller holds usedLock. */
    private void publishPacked(QueueRequest req, int bytesWritten) {
        PackedRing r = packedRing;
        long len = Integer.toUnsignedLong(bytesWritten);
        if (len > req.writableBytes()) {
            LOG.error("{}: device model reported {} bytes written for buffer id {}, which has {} writable; clamped", name, len, req.head(),
                    req.writableBytes());
            len = req.writableBytes();
        }
        int id = req.head();
        boolean duplicate = false;
        UsedRingFault fault = host.faults().takeUsedFault(setup.index());
        if (fault != null) {
            switch (fault) {
                case ID_OUT_OF_RANGE -> id = r.size() + 7;
                case ID_NOT_IN_FLIGHT -> id = idNotInFlight(req.head());
                case LEN_TOO_LARGE -> len = req.readableBytes() + req.writableBytes() + 4096;
                case USED_INDEX_JUMP -> duplicate = true; // packed form: one more used descriptor than requests in flight
            }
            LOG.warn("{}: injected fault {}: used descriptor id={} len={} for buffer id {}", name, fault, id, len, req.head());
        }
        if (duplicate) {
            // The extra descriptor first: a driver that sees the real one sees it too, in the same poll.
            int ahead = usedSlot + req.ringSlots;
            boolean aheadWrap = ahead >= r.size() ? !usedWrap : usedWrap;
            r.writeUsed(ahead >= r.size() ? ahead - r.size() : ahead, id, 0, aheadWrap);
        }
        int entry = req.inflightEntry;
        if (entry >= 0 && !recordUsed(entry)) {
            entry = -1;
        }
        writePackedUsed(r, id, (int) len, req.ringSlots + (duplicate ? 1 : 0));
        if (entry >= 0) {
            packedLog.afterUsed(entry);
            req.inflightEntry = -1;
        }
        req.inFlight = false;
        inFlight--;
        completed++;
        if (batchThread == Thread.currentThread()) {
            pendingSignal = true;
        } else {
            signalIfNeeded();
        }
    }

    /** The inflight area's part of a completion; a front-end that scribbled over the area loses only the record. */
    private boolean recordUsed(int entry) {
        try {
            packedLog.beforeUsed(entry);
            return true;
        } catch (IllegalArgumentException e) {
            LOG.error("{}: {}; the completion goes out unrecorded", name, e.getMessage());
            return false;
        }
    }

    private void writePackedUsed(PackedRing r, int id, int len, int slots) {
        r.writeUsed(usedSlot, id, len, usedWrap);
        usedSlot += slots;
        if (usedSlot >= r.size()) {
            usedSlot -= r.size();
            usedWrap = !usedWrap;
        }
        unsignalledSlots += slots;
    }

    /** A descriptor index the driver is not waiting for: neither held by the device nor pending in the avail ring. */
    private int idNotInFlight(int head) {
        int size = setup.size();
        for (int k = 1; k < size; k++) {
            int cand = (head + size / 2 + k) % size;
            if (!requests[cand].inFlight && cand != head) {
                return cand;
            }
        }
        return size + 7; // every head is in flight: out of range is the only lie left
    }

    /** Signals the call eventfd if the driver asked for it. Caller holds usedLock. */
    private void signalIfNeeded() {
        if (packedRing != null) {
            signalPackedIfNeeded();
            return;
        }
        if (callFd < 0) {
            return;
        }
        SplitRing r = ring;
        SplitRing.fullFence(); // the used index must be visible before the driver's event index is read
        boolean need;
        if (setup.eventIdx()) {
            int old = signalledUsed;
            boolean valid = signalledValid;
            signalledUsed = usedIdx;
            signalledValid = true;
            need = !valid || needEvent(r.usedEvent(), usedIdx, old);
        } else {
            need = (r.availFlags() & VRING_AVAIL_F_NO_INTERRUPT) == 0;
        }
        if (need) {
            try {
                Native.eventfdWrite(callFd, 1);
            } catch (RuntimeException e) {
                LOG.warn("{}: signalling call eventfd {}: {}", name, callFd, e.getMessage());
            }
        }
    }

    /** The packed ring's interrupt rule: the driver area's flags, with DESC its off_wrap crossed. Caller holds usedLock. */
    private void signalPackedIfNeeded() {
        if (callFd < 0) {
            unsignalledSlots = 0;
            return;
        }
        SplitRing.fullFence(); // the used descriptors must be visible before the driver's wish is read
        int event = packedRing.driverEvent();
        int flags = event >>> 16;
        int advanced = unsignalledSlots;
        boolean valid = signalledValid;
        unsignalledSlots = 0;
        signalledValid = true;
        boolean need;
        if (flags == PackedRingLayout.RING_EVENT_FLAGS_DESC) {
            need = !valid || PackedRingLayout.needEvent(event & 0xFFFF, usedWrap, usedSlot, usedSlot - advanced, setup.size());
        } else {
            need = flags != PackedRingLayout.RING_EVENT_FLAGS_DISABLE;
        }
        if (need) {
            try {
                Native.eventfdWrite(callFd, 1);
            } catch (RuntimeException e) {
                LOG.warn("{}: signalling call eventfd {}: {}", name, callFd, e.getMessage());
            }
        }
    }

    /**
     * Replaces the call eventfd (SET_VRING_CALL on a running queue).
     *
     * @return the previous fd, for the caller to close
     */
    public int replaceCallFd(int fd) {
        synchronized (usedLock) {
            int old = callFd;
            callFd = fd;
            return old;
        }
    }

    /**
     * Stops the queue for good: later completions are dropped. The queue thread must have ended.
     *
     * @return the requests still held (they will never complete)
     */
    public int stop() {
        synchronized (usedLock) {
            stopped = true;
            return inFlight;
        }
    }

    /** @return the requests popped and not completed */
    public int inFlight() {
        synchronized (usedLock) {
            return inFlight;
        }
    }

    /** @return the requests completed so far */
    public long completedCount() {
        synchronized (usedLock) {
            return completed;
        }
    }

    @Override
    public String toString() {
        return name + "{size " + setup.size() + ", " + (setup.packed() ? "packed, avail 0x" + Integer.toHexString(lastAvail()) : "avail " + lastAvail) + "}";
    }
}
