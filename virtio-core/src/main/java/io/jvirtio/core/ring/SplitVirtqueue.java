package io.jvirtio.core.ring;

import io.jvirtio.core.jfr.RingViolationEvent;
import io.jvirtio.spec.ring.SplitRingLayout;

import io.jvirtio.spec.VirtioException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.Objects;

import static io.jvirtio.core.ring.DescriptorFreeList.NO_DESC;
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
import static io.jvirtio.spec.ring.SplitRingLayout.VIRTIO_PCI_VRING_ALIGN;
import static io.jvirtio.spec.ring.SplitRingLayout.VRING_AVAIL_F_NO_INTERRUPT;
import static io.jvirtio.spec.ring.SplitRingLayout.VRING_DESC_F_INDIRECT;
import static io.jvirtio.spec.ring.SplitRingLayout.VRING_DESC_F_NEXT;
import static io.jvirtio.spec.ring.SplitRingLayout.VRING_DESC_F_WRITE;
import static io.jvirtio.spec.ring.SplitRingLayout.VRING_USED_F_NO_NOTIFY;

/**
 * A split virtqueue, driver side, with SPDK's request API ({@code virtqueue_req_start},
 * {@code _add_iovs}, {@code _flush}, {@code _abort}, {@code virtio_recv_pkts}) and Linux's hardened
 * view of the device.
 *
 * <p>A request is {@link #reqStart started} with a cookie and a buffer count, gets its buffers with
 * {@link #reqAddIov} (device-readable first, then device-writable, as the spec requires), and is handed to
 * the device by {@link #reqFlush()} together with every other request started since the last flush.
 * {@link #poll} delivers completions to a {@link UsedSink}.
 *
 * <p><b>Indirect policy.</b> When indirect descriptors were negotiated ({@code indirectMemory != null}), a
 * request of up to {@link #directChainMax()} buffers (default {@value #DEFAULT_DIRECT_CHAIN_MAX}) is a direct
 * chain, as SPDK sends every request, as long as it leaves half the ring's descriptors free; a longer one, or
 * any once half the ring is taken, goes into its head's preallocated indirect table and takes one ring
 * descriptor (Linux's and DPDK's choice, which lets the queue hold {@code size} requests rather than
 * {@code size / 3}). So moderate depths (up to a sixth of the ring in 3-buffer requests: QD85 on SPDK's default
 * 512) are all direct, and a full ring still holds at least two thirds of {@code size} requests. A direct
 * chain saves the device one more table to translate and fetch per request: measured against SPDK's vhost
 * target it is the faster of the two at every depth (docs/decisions.md, "Direct chains for short requests").
 * {@code setDirectChainMax(0)} restores always-indirect.
 *
 * <p><b>Untrusted device.</b> Nothing read from ring memory is used as an index before it is checked,
 * and the driver's bookkeeping (free list, chains, cookies, writable bytes) lives only in Java arrays.
 * A used element with an id out of range or not a head in flight, a {@code len} larger than all the bytes
 * the request posted, or a used index that moved by more than the requests in flight breaks the queue: every
 * request in flight fails with a {@link RingViolationException} and {@link #reqStart} throws from then on.
 * A {@code len} past the writable bytes but within the request's buffers is capped to the writable bytes
 * and counted ({@link #overlongUsedLengths()}), logged once per queue: QEMU's own virtio-scsi counts the
 * data-out bytes of a write in {@code len} ({@code virtio_scsi_complete_req}: {@code qsgl.size +
 * resp_iov.size}), and neither Linux's virtio_scsi nor SPDK reads {@code len} there. Drivers never read
 * more than {@code len} device-written bytes, so the cap keeps the bound that matters.
 *
 * <p><b>Threads.</b> Not thread-safe: one thread owns the queue at a time (SPDK's model). The hot path
 * ({@code reqStart}, {@code reqAddIov}, {@code reqFlush}, {@code poll}) allocates nothing and makes no
 * system call other than the {@link Notifier} the device asked for.
 */
public final class SplitVirtqueue implements Virtqueue {
    private static final Logger LOG = LoggerFactory.getLogger(SplitVirtqueue.class);

    /** Acquire/release access to the u16 index fields; exact so a wrong call site fails instead of boxing. */
    private static final VarHandle RING_INDEX = LE_SHORT.varHandle().withInvokeExactBehavior();

    private static final byte HEAD_FREE = 0;
    /** Descriptors reserved by reqStart, buffers being added. */
    private static final byte HEAD_BUILDING = 1;
    /** In the avail ring but avail.idx not yet moved past it: the device may not use it yet. */
    private static final byte HEAD_QUEUED = 2;
    /** Visible to the device: the only state a used element may name. */
    private static final byte HEAD_PUBLISHED = 3;

    /**
     * In polled mode with EVENT_IDX, used_event is parked one behind lastUsed: the device signals only
     * when its used idx crosses it, i.e. after 65535 more completions. It can be at most {@code size}
     * (<= 32768) ahead of lastUsed, so re-parking every 16384 completions keeps it out of reach.
     */
    private static final int USED_EVENT_REPARK_DISTANCE = 1 << 14;

    /**
     * Requests of up to this many buffers go as direct chains while the ring has that many descriptors
     * free: a blk read or write (header, data, status) and a scsi command with up to two data buffers.
     * See the class comment and docs/decisions.md ("Direct chains for short requests") for the figures.
     */
    public static final int DEFAULT_DIRECT_CHAIN_MAX = 4;

    private final String name;
    private final int index;
    private final int size;
    private final int mask;
    private final String label;
    private final MemorySegment desc;
    private final MemorySegment avail;
    private final MemorySegment used;
    private final MemorySegment indirect;
    private final int maxIndirect;
    private final long indirectTableBytes;
    private final boolean eventIdx;
    private final Notifier notifier;
    private final long usedEventOffset;
    private final long availEventOffset;

    private final DescriptorFreeList freeList;
    /** Per head: the request's cookie. */
    private final Object[] cookies;
    /** Per head: ring descriptors the request holds (1 when indirect). */
    private final int[] chainLength;
    /** Per head: device-writable bytes posted, what used.len is capped to. */
    private final long[] writableBytes;
    /** Per head: all bytes posted (readable and writable), the bound for used.len. */
    private final long[] postedBytes;
    /** Per head: whether its buffers are in its indirect table. */
    private final boolean[] indirectHead;
    /** Per head: one of the HEAD_ states. */
    private final byte[] headState;
    /** Used elements whose len was capped to their writable bytes (written by the polling thread only). */
    private long overlongUsedLengths;
    /** Heads in avail ring order, our own copy: the avail ring itself is writable by the device. */
    private final int[] availShadow;

    /** Requests of up to this many buffers are direct chains while the descriptors are free; see the class comment. */
    private int directChainMax = DEFAULT_DIRECT_CHAIN_MAX;
    /** Descriptors a direct chain must leave free: half the ring, so it always holds at least 2/3 of {@code size} short requests. */
    private final int directReserve;

    private int buildHead = NO_DESC;
    private int buildDeclared;
    private int buildAdded;
    private int buildLast;
    private boolean buildWritableSeen;

    private int shadowAvailIdx;
    private int publishedAvailIdx;
    private int lastUsedIdx;
    private int queuedCount;
    private int publishedCount;
    private boolean interruptsEnabled;
    private int usedEventBase;
    private boolean polling;
    /** Bumped by failAll, so a poll whose callback reset the queue stops walking the old used ring. */
    private int epoch;
    private RingViolationException brokenCause;
    private String brokenDetail;

    /**
     * @param name           for messages, e.g. {@code blk0-q0}
     * @param index          the queue index on its device
     * @param size           descriptors, a power of two in 1..32768
     * @param ringMemory     zero-filled native memory, at least {@link SplitRingLayout#totalBytes(int)},
     *                       {@link SplitRingLayout#VIRTIO_PCI_VRING_ALIGN}-aligned, visible to the device
     * @param indirectMemory native memory for per-head indirect tables ({@code size * maxIndirect * 16}
     *                       bytes, 16-aligned, visible to the device), or null when
     *                       {@link SplitRingLayout#VIRTIO_RING_F_INDIRECT_DESC} was not negotiated
     * @param maxIndirect    descriptors per indirect table (0 when indirectMemory is null)
     * @param eventIdx       whether {@link SplitRingLayout#VIRTIO_RING_F_EVENT_IDX} was negotiated
     * @param notifier       the transport's kick
     * @throws IllegalArgumentException if an argument is out of range, naming it and its value
     */
    public SplitVirtqueue(String name, int index, int size, MemorySegment ringMemory, MemorySegment indirectMemory,
                          int maxIndirect, boolean eventIdx, Notifier notifier) {
        this.name = Objects.requireNonNull(name, "name");
        this.label = "virtqueue " + name + " (index " + index + ")";
        if (index < 0) {
            throw new IllegalArgumentException(label + ": negative queue index " + index);
        }
        if (!SplitRingLayout.isValidSize(size)) {
            throw new IllegalArgumentException(label + ": queue size " + size + " is not a power of two in 1.."
                    + SplitRingLayout.VIRTQUEUE_MAX_SIZE);
        }
        Objects.requireNonNull(ringMemory, "ringMemory");
        long needed = SplitRingLayout.totalBytes(size);
        if (!ringMemory.isNative() || ringMemory.byteSize() < needed || ringMemory.address() % VIRTIO_PCI_VRING_ALIGN != 0) {
            throw new IllegalArgumentException(label + ": ring memory must be native, " + VIRTIO_PCI_VRING_ALIGN
                    + "-aligned and at least " + needed + " bytes for size " + size + ", got " + describe(ringMemory));
        }
        if (indirectMemory == null) {
            if (maxIndirect != 0) {
                throw new IllegalArgumentException(label + ": maxIndirect " + maxIndirect + " without indirect memory");
            }
            indirectTableBytes = 0;
        } else {
            if (maxIndirect < 1) {
                throw new IllegalArgumentException(label + ": indirect memory given with maxIndirect " + maxIndirect);
            }
            indirectTableBytes = (long) maxIndirect * DESC_SIZE;
            long indirectNeeded = size * indirectTableBytes;
            if (!indirectMemory.isNative() || indirectMemory.byteSize() < indirectNeeded
                    || indirectMemory.address() % DESC_SIZE != 0) {
                throw new IllegalArgumentException(label + ": indirect memory must be native, " + DESC_SIZE
                        + "-aligned and at least " + indirectNeeded + " bytes (size " + size + " x maxIndirect "
                        + maxIndirect + " x " + DESC_SIZE + "), got " + describe(indirectMemory));
            }
        }
        this.index = index;
        this.size = size;
        this.mask = size - 1;
        this.desc = ringMemory.asSlice(SplitRingLayout.descTableOffset(), (long) size * DESC_SIZE);
        this.avail = ringMemory.asSlice(SplitRingLayout.availOffset(size), SplitRingLayout.availBytes(size));
        this.used = ringMemory.asSlice(SplitRingLayout.usedOffset(size), SplitRingLayout.usedBytes(size));
        this.indirect = indirectMemory == null ? null : indirectMemory.asSlice(0, size * indirectTableBytes);
        // The spec caps any chain, indirect ones included, at the queue size.
        this.maxIndirect = indirectMemory == null ? 0 : Math.min(maxIndirect, size);
        this.eventIdx = eventIdx;
        this.notifier = Objects.requireNonNull(notifier, "notifier");
        this.usedEventOffset = SplitRingLayout.usedEventOffset(size);
        this.availEventOffset = SplitRingLayout.availEventOffset(size);

        this.directReserve = size / 2;
        this.freeList = new DescriptorFreeList(size);
        this.cookies = new Object[size];
        this.chainLength = new int[size];
        this.writableBytes = new long[size];
        this.postedBytes = new long[size];
        this.indirectHead = new boolean[size];
        this.headState = new byte[size];
        this.availShadow = new int[size];
        setInterruptsEnabled(false);
    }

    /** @return the queue's name, e.g. {@code blk0-q0} */
    public String name() {
        return name;
    }

    /** @return the queue index on its device */
    public int index() {
        return index;
    }

    /** @return the number of descriptors */
    public int size() {
        return size;
    }

    /** @return whether EVENT_IDX was negotiated */
    public boolean eventIdx() {
        return eventIdx;
    }

    /** @return descriptors per indirect table (capped at the queue size), 0 without indirect descriptors */
    public int maxIndirect() {
        return maxIndirect;
    }

    /**
     * Sets the longest request sent as a direct chain when indirect descriptors were negotiated: requests of
     * up to {@code buffers} buffers take that many ring descriptors while half the ring stays free, longer ones
     * (or any, once half the ring is taken) one descriptor and their head's indirect table. 0 or 1 sends every request of
     * several buffers through its indirect table (Linux's policy); without indirect descriptors every
     * request is direct whatever this says.
     *
     * @param buffers 0..size
     * @throws IllegalArgumentException if out of range
     */
    public void setDirectChainMax(int buffers) {
        if (buffers < 0 || buffers > size) {
            throw new IllegalArgumentException(label + ": directChainMax " + buffers + " must be 0.." + size);
        }
        this.directChainMax = buffers;
    }

    /** @return the longest request sent as a direct chain while its descriptors are free ({@link #setDirectChainMax}) */
    public int directChainMax() {
        return directChainMax;
    }

    /** @return the device address of the descriptor table (the native virtual address) */
    public long descTableAddress() {
        return desc.address();
    }

    /** @return the device address of the avail (driver) ring */
    public long availRingAddress() {
        return avail.address();
    }

    /** @return the device address of the used (device) ring */
    public long usedRingAddress() {
        return used.address();
    }

    @Override
    public long driverAreaAddress() {
        return availRingAddress();
    }

    @Override
    public long deviceAreaAddress() {
        return usedRingAddress();
    }

    /**
     * Starts a request of up to {@code iovcnt} buffers, reserving its descriptors. A request still being
     * built is finished first (queued for the next flush), as in SPDK.
     *
     * @param cookie returned to the {@link UsedSink} when the request completes or fails; not null
     * @param iovcnt how many buffers the request will have, 1..size
     * @return false if the descriptors are not free now (poll, then retry)
     * @throws VirtioException if iovcnt can never fit, or the queue is broken ({@link RingViolationException})
     */
    public boolean reqStart(Object cookie, int iovcnt) {
        if (brokenCause != null) {
            throw brokenError();
        }
        if (iovcnt < 1 || iovcnt > size) {
            throw new VirtioException(label + ": a request of " + iovcnt + " buffers can never fit: iovcnt must be 1.."
                    + size + " (queue size " + size + ", indirect tables of " + maxIndirect + ")");
        }
        Objects.requireNonNull(cookie, "cookie");
        if (buildHead != NO_DESC) {
            finishRequest();
        }
        // Short chains go direct while the ring has the descriptors (see the class comment, "Indirect policy").
        boolean useIndirect = iovcnt > 1 && iovcnt <= maxIndirect
                && (iovcnt > directChainMax || freeList.free() - iovcnt < directReserve);
        int descriptors = useIndirect ? 1 : iovcnt;
        if (descriptors > freeList.free()) {
            return false;
        }
        int head = freeList.take(descriptors);
        cookies[head] = cookie;
        chainLength[head] = descriptors;
        writableBytes[head] = 0;
        postedBytes[head] = 0;
        indirectHead[head] = useIndirect;
        headState[head] = HEAD_BUILDING;
        buildHead = head;
        buildDeclared = iovcnt;
        buildAdded = 0;
        buildLast = NO_DESC;
        buildWritableSeen = false;
        return true;
    }

    /**
     * Adds one buffer to the request being built. Device-readable buffers must come before
     * device-writable ones (virtio 2.7.4).
     *
     * @param address        the buffer's device address
     * @param length         its length in bytes, >= 0
     * @param deviceWritable true if the device writes it ({@link SplitRingLayout#VRING_DESC_F_WRITE})
     * @throws IllegalStateException    if no request is being built or it already has iovcnt buffers
     * @throws IllegalArgumentException on a negative length or a readable buffer after a writable one
     * @throws VirtioException          if the queue broke since reqStart
     */
    public void reqAddIov(long address, int length, boolean deviceWritable) {
        int head = buildHead;
        if (head == NO_DESC) {
            if (brokenCause != null) {
                throw brokenError();
            }
            throw new IllegalStateException(label + ": reqAddIov without reqStart");
        }
        if (buildAdded == buildDeclared) {
            throw new IllegalStateException(label + ": request already has the " + buildDeclared + " buffers it was started with");
        }
        if (length < 0) {
            throw new IllegalArgumentException(label + ": negative buffer length " + length);
        }
        if (!deviceWritable && buildWritableSeen) {
            throw new IllegalArgumentException(label + ": device-readable buffer after a device-writable one");
        }
        boolean last = buildAdded == buildDeclared - 1;
        int flags = deviceWritable ? VRING_DESC_F_WRITE : 0;
        if (indirectHead[head]) {
            int next = buildAdded + 1;
            writeDesc(indirect, indirectTableOffset(head) + SplitRingLayout.descOffset(buildAdded), address, length,
                    last ? flags : flags | VRING_DESC_F_NEXT, last ? 0 : next);
            buildLast = buildAdded;
        } else {
            int d = buildAdded == 0 ? head : freeList.next(buildLast);
            writeDesc(desc, SplitRingLayout.descOffset(d), address, length,
                    last ? flags : flags | VRING_DESC_F_NEXT, last ? 0 : freeList.next(d));
            buildLast = d;
        }
        buildAdded++;
        postedBytes[head] += length;
        if (deviceWritable) {
            writableBytes[head] += length;
            buildWritableSeen = true;
        }
    }

    /**
     * Publishes every request started since the last flush: avail.idx is stored with release semantics,
     * then, after a full fence, the device is kicked through the {@link Notifier} only if it asked
     * (EVENT_IDX: {@code vring_need_event} on avail_event; otherwise used.flags without NO_NOTIFY).
     * Does nothing on a broken queue (its requests have already failed).
     *
     * @throws IllegalStateException if the request being built has no buffer (it is dropped)
     */
    public void reqFlush() {
        if (buildHead != NO_DESC) {
            finishRequest();
        }
        if (queuedCount == 0) {
            return;
        }
        int oldIdx = publishedAvailIdx;
        int newIdx = shadowAvailIdx;
        for (int i = oldIdx; i != newIdx; i = (i + 1) & RING_INDEX_MASK) {
            headState[availShadow[i & mask]] = HEAD_PUBLISHED;
        }
        publishedCount += queuedCount;
        queuedCount = 0;
        RING_INDEX.setRelease(avail, (long) AVAIL_IDX_OFFSET, (short) newIdx);
        publishedAvailIdx = newIdx;
        // Our avail.idx store must be visible before we read the device's wish, or both sides can
        // decide the other will act and a kick is lost (Linux's virtio_mb in kick_prepare).
        VarHandle.fullFence();
        boolean kick;
        if (eventIdx) {
            int availEvent = (short) RING_INDEX.getAcquire(used, availEventOffset) & RING_INDEX_MASK;
            kick = SplitRingLayout.needEvent(availEvent, newIdx, oldIdx);
        } else {
            kick = ((short) RING_INDEX.getAcquire(used, (long) USED_FLAGS_OFFSET) & VRING_USED_F_NO_NOTIFY) == 0;
        }
        if (kick) {
            notifier.notifyQueue(this);
        }
    }

    /** Drops the request being built (before its flush), returning its descriptors; no-op if there is none. */
    public void reqAbort() {
        if (buildHead == NO_DESC) {
            return;
        }
        int head = buildHead;
        buildHead = NO_DESC;
        releaseHead(head);
    }

    /**
     * Takes up to {@code max} used elements, validates each and delivers it to {@code sink.onUsed}. A
     * violation breaks the queue and fails every request in flight through {@code sink.onError}; nothing
     * escapes as an exception except what the sink itself throws.
     *
     * @param max  the most completions to deliver
     * @param sink where completions (and, on a violation, failures) go
     * @return how many completions were delivered, failures included
     * @throws IllegalStateException if called from one of its own callbacks
     */
    public int poll(int max, UsedSink sink) {
        if (brokenCause != null || max <= 0) {
            return 0;
        }
        if (polling) {
            throw new IllegalStateException(label + ": poll called from a completion callback");
        }
        int usedIdx = (short) RING_INDEX.getAcquire(used, (long) USED_IDX_OFFSET) & RING_INDEX_MASK;
        int available = (usedIdx - lastUsedIdx) & RING_INDEX_MASK;
        if (available == 0) {
            return 0;
        }
        if (available > publishedCount) {
            return breakQueue(RingViolation.USED_INDEX_JUMP, "used idx moved from " + lastUsedIdx + " to " + usedIdx
                    + " (" + available + " new elements), more than the " + publishedCount + " requests in flight", sink);
        }
        int count = Math.min(available, max);
        int startEpoch = epoch;
        int delivered = 0;
        polling = true;
        try {
            for (int i = 0; i < count; i++) {
                int element = lastUsedIdx;
                long offset = SplitRingLayout.usedRingOffset(element & mask);
                // Read each field once: the device may change them under us.
                int id = used.get(LE_INT, offset + USED_ELEMENT_ID_OFFSET);
                int len = used.get(LE_INT, offset + USED_ELEMENT_LEN_OFFSET);
                if (id < 0 || id >= size) {
                    return delivered + breakQueue(RingViolation.ID_OUT_OF_RANGE, "used element " + element + " has id "
                            + Integer.toUnsignedString(id) + ", out of range (queue size " + size + ")", sink);
                }
                if (headState[id] != HEAD_PUBLISHED) {
                    return delivered + breakQueue(RingViolation.ID_NOT_IN_FLIGHT, "used element " + element + " has id "
                            + id + ", which is not the head of a request in flight", sink);
                }
                if (Integer.toUnsignedLong(len) > writableBytes[id]) {
                    if (Integer.toUnsignedLong(len) > postedBytes[id]) {
                        return delivered + breakQueue(RingViolation.LEN_TOO_LARGE, "used element " + element + " (id " + id
                                + ") has len " + Integer.toUnsignedString(len) + ", more than the " + postedBytes[id]
                                + " bytes posted (" + writableBytes[id] + " writable)", sink);
                    }
                    len = capOverlongLen(element, id, len);
                }
                Object cookie = cookies[id];
                publishedCount--;
                releaseHead(id);
                lastUsedIdx = (element + 1) & RING_INDEX_MASK;
                delivered++;
                sink.onUsed(cookie, len);
                if (epoch != startEpoch || brokenCause != null) {
                    return delivered;
                }
            }
        } finally {
            polling = false;
        }
        updateUsedEvent();
        return delivered;
    }

    /** A len within the request's buffers but past its writable part: taken as the writable bytes (see the class comment). */
    private int capOverlongLen(int element, int id, int len) {
        if (overlongUsedLengths++ == 0) {
            LOG.warn("{}: used element {} (id {}) has len {}, more than the {} writable bytes posted but within the {} posted;"
                    + " taken as {} (QEMU's virtio-scsi counts data-out bytes in used.len); not logged again for this queue",
                    label, element, id, Integer.toUnsignedString(len), writableBytes[id], postedBytes[id], writableBytes[id]);
        }
        return (int) writableBytes[id];
    }

    /** @return how many used elements had a len past their writable bytes (within their buffers) and were capped */
    public long overlongUsedLengths() {
        return overlongUsedLengths;
    }

    /** @return true if the device has published used elements that {@link #poll} has not taken yet */
    public boolean hasUsed() {
        return ((short) RING_INDEX.getAcquire(used, (long) USED_IDX_OFFSET) & RING_INDEX_MASK) != lastUsedIdx;
    }

    /**
     * Polled mode (false, the default) asks the device not to interrupt: avail.flags NO_INTERRUPT, or
     * with EVENT_IDX (where the spec wants avail.flags 0) used_event parked just behind the used index.
     * Interrupt mode (true) re-arms: the device signals on its next completion. After enabling, poll once
     * more: a completion may have landed before the device saw the change.
     *
     * @param enabled whether the device should interrupt (signal the call eventfd) on completions
     */
    public void setInterruptsEnabled(boolean enabled) {
        interruptsEnabled = enabled;
        if (eventIdx) {
            RING_INDEX.setRelease(avail, (long) AVAIL_FLAGS_OFFSET, (short) 0);
            writeUsedEvent(enabled ? lastUsedIdx : lastUsedIdx - 1);
            usedEventBase = lastUsedIdx;
        } else {
            RING_INDEX.setRelease(avail, (long) AVAIL_FLAGS_OFFSET, (short) (enabled ? 0 : VRING_AVAIL_F_NO_INTERRUPT));
        }
        // Make the new wish visible before the caller's next look at used.idx.
        VarHandle.fullFence();
    }

    /** @return whether the device is asked to interrupt */
    public boolean interruptsEnabled() {
        return interruptsEnabled;
    }

    /** @return true once the device broke the ring's rules */
    public boolean isBroken() {
        return brokenCause != null;
    }

    /** @return what broke the queue (the violation's message), or null when not broken */
    public String brokenReason() {
        return brokenCause == null ? null : brokenCause.getMessage();
    }

    /** @return the violation that broke the queue, or null when not broken */
    public RingViolationException brokenCause() {
        return brokenCause;
    }

    /** @return requests started, queued or published and not yet completed or failed */
    public int inFlight() {
        return (buildHead != NO_DESC ? 1 : 0) + queuedCount + publishedCount;
    }

    /** @return free ring descriptors */
    public int freeDescriptors() {
        return freeList.free();
    }

    /**
     * Fails every request in flight (started, queued or published) with {@code error} through
     * {@code sink.onError}, in descriptor index order, and resets the queue to empty <em>at the same
     * position</em>: used.idx and {@link #lastUsedIndex()} jump to {@link #availIndex()}, requests not yet
     * flushed are dropped, a broken queue is usable again. For when the transport died or the device is
     * being reset; call it only while the device does not touch the ring. A device that restarts at index
     * 0 (a PCI reset) needs a new queue over zero-filled memory instead.
     *
     * @param error what each request fails with
     * @param sink  where the failures go
     * @return how many requests were failed
     */
    public int failAll(VirtioException error, UsedSink sink) {
        Objects.requireNonNull(error, "error");
        Object[] victims = resetInFlight();
        lastUsedIdx = publishedAvailIdx;
        RING_INDEX.setRelease(used, (long) USED_IDX_OFFSET, (short) lastUsedIdx);
        brokenCause = null;
        brokenDetail = null;
        epoch++;
        setInterruptsEnabled(interruptsEnabled);
        for (Object cookie : victims) {
            sink.onError(cookie, error);
        }
        return victims.length;
    }

    /**
     * Makes the ring ready for a new instance of the device (a back-end that was restarted): every
     * request the old one had taken and not completed goes back into the avail ring, oldest first,
     * from {@link #lastUsedIndex()} on; requests queued and not flushed follow, still unpublished.
     * used.idx is set to the same index and used.flags cleared (a stale NO_NOTIFY of the dead device
     * would stop every kick), avail_event too (the first flush after the restart kicks). Descriptors
     * and indirect tables stay as they are: the device reads the same requests again.
     *
     * <p>Call only from the owner, while no device touches the ring, after taking every used
     * element the old device published ({@link #hasUsed()} false). Error path: allocates.
     *
     * @return the avail index the new device starts from (vhost-user SET_VRING_BASE)
     * @throws IllegalStateException when used elements are still untaken
     */
    public int prepareReplay() {
        if (hasUsed()) {
            throw new IllegalStateException(label + ": used elements not yet taken; poll before preparing a replay");
        }
        int base = lastUsedIdx;
        int[] order = new int[size];
        boolean[] seen = new boolean[size];
        int published = 0;
        // Heads published so long ago that later entries overwrote their avail slot go first: they are the oldest.
        int window = Math.min(size, (publishedAvailIdx - base) & RING_INDEX_MASK);
        for (int j = window; j > 0; j--) {
            int h = availShadow[(publishedAvailIdx - j) & mask];
            if (headState[h] == HEAD_PUBLISHED && !seen[h]) {
                seen[h] = true;
            }
        }
        for (int h = 0; h < size; h++) {
            if (headState[h] == HEAD_PUBLISHED && !seen[h]) {
                order[published++] = h;
            }
        }
        java.util.Arrays.fill(seen, false);
        for (int j = window; j > 0; j--) {
            int h = availShadow[(publishedAvailIdx - j) & mask];
            if (headState[h] == HEAD_PUBLISHED && !seen[h]) {
                seen[h] = true;
                order[published++] = h;
            }
        }
        int queued = 0;
        int[] queuedHeads = new int[queuedCount];
        for (int i = publishedAvailIdx; i != shadowAvailIdx; i = (i + 1) & RING_INDEX_MASK) {
            queuedHeads[queued++] = availShadow[i & mask];
        }
        int idx = base;
        for (int j = 0; j < published; j++, idx = (idx + 1) & RING_INDEX_MASK) {
            avail.set(LE_SHORT, SplitRingLayout.availRingOffset(idx & mask), (short) order[j]);
            availShadow[idx & mask] = order[j];
        }
        publishedAvailIdx = idx;
        for (int j = 0; j < queued; j++, idx = (idx + 1) & RING_INDEX_MASK) {
            avail.set(LE_SHORT, SplitRingLayout.availRingOffset(idx & mask), (short) queuedHeads[j]);
            availShadow[idx & mask] = queuedHeads[j];
        }
        shadowAvailIdx = idx;
        publishedCount = published;
        RING_INDEX.set(used, (long) USED_FLAGS_OFFSET, (short) 0);
        RING_INDEX.set(used, (long) USED_IDX_OFFSET, (short) base);
        if (eventIdx) {
            RING_INDEX.set(used, availEventOffset, (short) base);
        }
        RING_INDEX.setRelease(avail, (long) AVAIL_IDX_OFFSET, (short) publishedAvailIdx);
        usedEventBase = lastUsedIdx;
        setInterruptsEnabled(interruptsEnabled);
        LOG.debug("{}: replay prepared from avail index {}: {} request(s) in flight, {} queued", label, base, published, queued);
        return base;
    }

    /** Kicks the device whether or not it asked: after a restart, so it looks at what is in the ring. */
    public void kick() {
        notifier.notifyQueue(this);
    }

    /** @return the next used index the driver will consume (16-bit), for GET_VRING_BASE / reconnect */
    public int lastUsedIndex() {
        return lastUsedIdx;
    }

    /** @return the avail index the device has been shown (16-bit), for GET_VRING_BASE / reconnect */
    public int availIndex() {
        return publishedAvailIdx;
    }

    @Override
    public String toString() {
        return label + " size " + size + ", in flight " + inFlight() + ", free " + freeList.free()
                + (brokenCause != null ? ", broken: " + brokenDetail : "");
    }

    /** Closes the request being built and puts its head in the avail ring, not yet visible to the device. */
    private void finishRequest() {
        int head = buildHead;
        if (buildAdded == 0) {
            reqAbort();
            throw new IllegalStateException(label + ": request finished without buffers (dropped)");
        }
        int writableFlag = buildWritableSeen ? VRING_DESC_F_WRITE : 0;
        if (indirectHead[head]) {
            if (buildAdded < buildDeclared) {
                // The last buffer added was written with NEXT in expectation of more.
                indirect.set(LE_SHORT, indirectTableOffset(head) + SplitRingLayout.descOffset(buildLast) + DESC_FLAGS_OFFSET,
                        (short) writableFlag);
            }
            writeDesc(desc, SplitRingLayout.descOffset(head), indirect.address() + indirectTableOffset(head),
                    (int) SplitRingLayout.descOffset(buildAdded), VRING_DESC_F_INDIRECT, 0);
        } else if (buildAdded < buildDeclared) {
            desc.set(LE_SHORT, SplitRingLayout.descOffset(buildLast) + DESC_FLAGS_OFFSET, (short) writableFlag);
            int rest = freeList.cutAfter(buildLast);
            freeList.give(rest, buildDeclared - buildAdded);
            chainLength[head] = buildAdded;
        }
        int slot = shadowAvailIdx & mask;
        avail.set(LE_SHORT, SplitRingLayout.availRingOffset(slot), (short) head);
        availShadow[slot] = head;
        shadowAvailIdx = (shadowAvailIdx + 1) & RING_INDEX_MASK;
        headState[head] = HEAD_QUEUED;
        queuedCount++;
        buildHead = NO_DESC;
    }

    /** Returns a head's descriptors to the free list and forgets the request. */
    private void releaseHead(int head) {
        freeList.give(head, chainLength[head]);
        cookies[head] = null;
        headState[head] = HEAD_FREE;
    }

    private int breakQueue(RingViolation violation, String detail, UsedSink sink) {
        RingViolationException error = new RingViolationException(violation, label + ": " + detail);
        brokenCause = error;
        brokenDetail = detail;
        LOG.warn("{}; queue broken, failing {} request(s) in flight", error.getMessage(), inFlight());
        Object[] victims = resetInFlight();
        RingViolationEvent.emit(name(), violation.name(), detail, victims.length);
        for (Object cookie : victims) {
            sink.onError(cookie, error);
        }
        return victims.length;
    }

    /**
     * Forgets every request in flight before any callback runs, so callbacks see a consistent queue.
     * Error path only: allocates.
     */
    private Object[] resetInFlight() {
        Object[] victims = new Object[inFlight()];
        int n = 0;
        for (int head = 0; head < size && n < victims.length; head++) {
            if (headState[head] != HEAD_FREE) {
                victims[n++] = cookies[head];
            }
        }
        java.util.Arrays.fill(cookies, null);
        java.util.Arrays.fill(headState, HEAD_FREE);
        freeList.reset();
        buildHead = NO_DESC;
        queuedCount = 0;
        publishedCount = 0;
        shadowAvailIdx = publishedAvailIdx;
        return victims;
    }

    /** After consuming: interrupt mode asks for a signal on the next completion; polled mode keeps it parked. */
    private void updateUsedEvent() {
        if (!eventIdx) {
            return;
        }
        if (interruptsEnabled) {
            writeUsedEvent(lastUsedIdx);
            // Linux's virtio_store_mb: the device must see the new used_event before we next read used.idx.
            VarHandle.fullFence();
        } else if (((lastUsedIdx - usedEventBase) & RING_INDEX_MASK) >= USED_EVENT_REPARK_DISTANCE) {
            writeUsedEvent(lastUsedIdx - 1);
            usedEventBase = lastUsedIdx;
        }
    }

    private void writeUsedEvent(int value) {
        RING_INDEX.setRelease(avail, usedEventOffset, (short) value);
    }

    private long indirectTableOffset(int head) {
        return head * indirectTableBytes;
    }

    private RingViolationException brokenError() {
        return new RingViolationException(brokenCause.violation(), label + " is broken: " + brokenDetail, brokenCause);
    }

    private static void writeDesc(MemorySegment table, long offset, long address, int length, int flags, int next) {
        table.set(LE_LONG, offset + DESC_ADDR_OFFSET, address);
        table.set(LE_INT, offset + DESC_LEN_OFFSET, length);
        table.set(LE_SHORT, offset + DESC_FLAGS_OFFSET, (short) flags);
        table.set(LE_SHORT, offset + DESC_NEXT_OFFSET, (short) next);
    }

    private static String describe(MemorySegment segment) {
        return (segment.isNative() ? "native" : "heap") + " segment of " + segment.byteSize() + " bytes at 0x"
                + Long.toHexString(segment.address());
    }
}
