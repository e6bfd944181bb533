package io.jvirtio.core.ring;

import io.jvirtio.core.jfr.RingViolationEvent;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.spec.ring.PackedRingLayout;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.Objects;

import static io.jvirtio.core.ring.DescriptorFreeList.NO_DESC;
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
 * A packed virtqueue (virtio 1.2, section 2.8), driver side, behind the same request API as
 * {@link SplitVirtqueue} and with the same distrust of the device (Linux's {@code virtqueue_add_packed},
 * {@code virtqueue_get_buf_ctx_packed}, {@code virtqueue_kick_prepare_packed}).
 *
 * <p><b>Positions.</b> The driver writes descriptors in ring order. Its avail and used positions are
 * counted modulo {@code 2 x size}: the slot is the position modulo size, the wrap counter is 1 in the
 * first half (the spec starts both counters at 1). A request takes consecutive slots (one for an
 * indirect table, else one per buffer) and as many entries of a Java free list of {@code size}
 * (Linux's {@code desc_extra}): the first is its buffer id, all hold what was written in its slots,
 * since a slot may be reused while its request is still in flight (a later request completed first).
 * The device writes one used descriptor per request at its used position; the driver's used position
 * then skips the request's slot count, which the driver knows by the id: the ring region from the used
 * to the avail position always holds exactly the slots of the requests the device was given.
 *
 * <p><b>Publishing.</b> The non-head descriptors of a chain carry their avail flags when written; the
 * head's flags are stored last, with release semantics, at {@link #reqFlush()}, so the device never sees
 * a partial chain. Slots given back unpublished (an aborted request, {@link #failAll}) get a flag pattern
 * that is neither available nor used in their lap, so a device reaching them later sees nothing.
 *
 * <p><b>Untrusted device.</b> Only the next used slot's flags, id and len are read from the ring, each
 * once. A used descriptor whose id is out of range or not in flight, whose len exceeds every byte posted,
 * that appears where nothing was made available ({@link RingViolation#USED_INDEX_JUMP}), or a flag pattern
 * the device can never have written at the next used slot ({@link RingViolation#USED_FLAGS_INVALID})
 * breaks the queue, as in the split ring; a len past the writable bytes but within the buffers is capped.
 * Chains, lengths and addresses live in Java arrays (a reconnect rewrites the ring from them).
 *
 * <p><b>Notifications.</b> The driver area (driver event suppression) is DISABLE in polled mode, ENABLE in
 * interrupt mode, or DESC with the used position when EVENT_IDX was negotiated. A kick is sent when the
 * device area allows it: not DISABLE, and with DESC only when the published range crossed its off_wrap.
 *
 * <p>Not thread-safe: one thread owns the queue at a time. The hot path allocates nothing.
 */
public final class PackedVirtqueue implements Virtqueue {
    private static final Logger LOG = LoggerFactory.getLogger(PackedVirtqueue.class);

    private static final VarHandle RING_U16 = LE_SHORT.varHandle().withInvokeExactBehavior();
    private static final VarHandle RING_U32 = LE_INT.varHandle().withInvokeExactBehavior();

    private static final byte ID_FREE = 0;
    private static final byte ID_BUILDING = 1;
    private static final byte ID_QUEUED = 2;
    private static final byte ID_PUBLISHED = 3;
    private static final int FLAG_BITS_MASK = VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_INDIRECT;
    private static final int WRAP_BITS = VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED;

    private final String name;
    private final int index;
    private final int size;
    private final int positions;
    private final String label;
    private final MemorySegment ring;
    private final MemorySegment driverArea;
    private final MemorySegment deviceArea;
    private final MemorySegment indirect;
    private final int maxIndirect;
    private final long indirectTableBytes;
    private final boolean eventIdx;
    private final Notifier notifier;

    private final DescriptorFreeList ids;
    private final Object[] cookies;
    /** Per id: ring slots the request holds (1 when indirect). */
    private final int[] chainLength;
    /** Per id: position of its first slot. */
    private final int[] headPos;
    /** Per id: the head's flags (wrap bits included), stored into the ring at publication. */
    private final int[] headFlags;
    private final long[] writableBytes;
    private final long[] postedBytes;
    private final boolean[] indirectId;
    /** See {@link #setDirectChainMax}. */
    private int directChainMax = SplitVirtqueue.DEFAULT_DIRECT_CHAIN_MAX;
    private final byte[] idState;
    /** Per id: publication order, for a replay oldest first. */
    private final long[] publishSeq;
    /** Per free-list entry: the descriptor written for it (flags without the wrap bits), the source of a replay. */
    private final long[] entryAddr;
    private final int[] entryLen;
    private final short[] entryFlags;
    /** Ids finished and waiting for the next flush, in order. */
    private final int[] queuedIds;

    private int freeSlots;
    private int availPos;
    private int publishedPos;
    private int usedPos;
    private int queuedCount;
    private int publishedCount;
    private long nextSeq;
    private int buildId = NO_DESC;
    private int buildDeclared;
    private int buildAdded;
    private int buildLastEntry;
    private boolean buildWritableSeen;
    private boolean interruptsEnabled;
    private boolean polling;
    private int epoch;
    private long overlongUsedLengths;
    private RingViolationException brokenCause;
    private String brokenDetail;

    /**
     * @param name           for messages, e.g. {@code blk0-q0}
     * @param index          the queue index on its device
     * @param size           descriptors, 1..32768
     * @param ringMemory     zero-filled native memory, at least {@link PackedRingLayout#totalBytes(int)},
     *                       {@link PackedRingLayout#DESC_SIZE}-aligned, visible to the device
     * @param indirectMemory native memory for per-id indirect tables ({@code size * maxIndirect * 16} bytes,
     *                       16-aligned, visible to the device), or null without INDIRECT_DESC
     * @param maxIndirect    descriptors per indirect table (0 when indirectMemory is null)
     * @param eventIdx       whether EVENT_IDX was negotiated
     * @param notifier       the transport's kick
     * @throws IllegalArgumentException if an argument is out of range, naming it and its value
     */
    public PackedVirtqueue(String name, int index, int size, MemorySegment ringMemory, MemorySegment indirectMemory,
                           int maxIndirect, boolean eventIdx, Notifier notifier) {
        this.name = Objects.requireNonNull(name, "name");
        this.label = "packed virtqueue " + name + " (index " + index + ")";
        if (index < 0) {
            throw new IllegalArgumentException(label + ": negative queue index " + index);
        }
        if (!PackedRingLayout.isValidSize(size)) {
            throw new IllegalArgumentException(label + ": queue size " + size + " is not in 1.." + PackedRingLayout.VIRTQUEUE_MAX_SIZE);
        }
        Objects.requireNonNull(ringMemory, "ringMemory");
        long needed = PackedRingLayout.totalBytes(size);
        if (!ringMemory.isNative() || ringMemory.byteSize() < needed || ringMemory.address() % DESC_SIZE != 0) {
            throw new IllegalArgumentException(label + ": ring memory must be native, " + DESC_SIZE + "-aligned and at least "
                    + needed + " bytes for size " + size + ", got " + describe(ringMemory));
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
            if (!indirectMemory.isNative() || indirectMemory.byteSize() < indirectNeeded || indirectMemory.address() % DESC_SIZE != 0) {
                throw new IllegalArgumentException(label + ": indirect memory must be native, " + DESC_SIZE
                        + "-aligned and at least " + indirectNeeded + " bytes (size " + size + " x maxIndirect "
                        + maxIndirect + " x " + DESC_SIZE + "), got " + describe(indirectMemory));
            }
        }
        this.index = index;
        this.size = size;
        this.positions = 2 * size;
        this.ring = ringMemory.asSlice(PackedRingLayout.descRingOffset(), (long) size * DESC_SIZE);
        this.driverArea = ringMemory.asSlice(PackedRingLayout.driverAreaOffset(size), PackedRingLayout.EVENT_SUPPRESS_SIZE);
        this.deviceArea = ringMemory.asSlice(PackedRingLayout.deviceAreaOffset(size), PackedRingLayout.EVENT_SUPPRESS_SIZE);
        this.indirect = indirectMemory == null ? null : indirectMemory.asSlice(0, size * indirectTableBytes);
        this.maxIndirect = indirectMemory == null ? 0 : Math.min(maxIndirect, size);
        this.eventIdx = eventIdx;
        this.notifier = Objects.requireNonNull(notifier, "notifier");
        this.ids = new DescriptorFreeList(size);
        this.cookies = new Object[size];
        this.chainLength = new int[size];
        this.headPos = new int[size];
        this.headFlags = new int[size];
        this.writableBytes = new long[size];
        this.postedBytes = new long[size];
        this.indirectId = new boolean[size];
        this.idState = new byte[size];
        this.publishSeq = new long[size];
        this.entryAddr = new long[size];
        this.entryLen = new int[size];
        this.entryFlags = new short[size];
        this.queuedIds = new int[size];
        this.freeSlots = size;
        setInterruptsEnabled(false);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int index() {
        return index;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public boolean eventIdx() {
        return eventIdx;
    }

    @Override
    public int maxIndirect() {
        return maxIndirect;
    }

    @Override
    public long descTableAddress() {
        return ring.address();
    }

    @Override
    public long driverAreaAddress() {
        return driverArea.address();
    }

    @Override
    public long deviceAreaAddress() {
        return deviceArea.address();
    }

    /**
     * As {@link SplitVirtqueue#setDirectChainMax}: requests of up to {@code buffers} buffers take that many
     * ring slots while half the ring stays free; 0 sends every request of several buffers through its
     * indirect table.
     *
     * @param buffers 0..size
     */
    public void setDirectChainMax(int buffers) {
        if (buffers < 0 || buffers > size) {
            throw new IllegalArgumentException(label + ": directChainMax " + buffers + " must be 0.." + size);
        }
        this.directChainMax = buffers;
    }

    @Override
    public boolean reqStart(Object cookie, int iovcnt) {
        if (brokenCause != null) {
            throw brokenError();
        }
        if (iovcnt < 1 || iovcnt > size) {
            throw new VirtioException(label + ": a request of " + iovcnt + " buffers can never fit: iovcnt must be 1.."
                    + size + " (queue size " + size + ", indirect tables of " + maxIndirect + ")");
        }
        Objects.requireNonNull(cookie, "cookie");
        if (buildId != NO_DESC) {
            finishRequest();
        }
        // Short chains go direct while half the ring stays free: SplitVirtqueue's policy, for the same reason.
        boolean useIndirect = iovcnt > 1 && iovcnt <= maxIndirect && (iovcnt > directChainMax || freeSlots - iovcnt < size / 2);
        int slots = useIndirect ? 1 : iovcnt;
        // A request holds as many entries as slots: free slots and free entries are the same count.
        if (slots > freeSlots) {
            return false;
        }
        int id = ids.take(slots);
        cookies[id] = cookie;
        chainLength[id] = slots;
        headPos[id] = availPos;
        writableBytes[id] = 0;
        postedBytes[id] = 0;
        indirectId[id] = useIndirect;
        idState[id] = ID_BUILDING;
        availPos = advance(availPos, slots);
        freeSlots -= slots;
        buildId = id;
        buildDeclared = iovcnt;
        buildAdded = 0;
        buildLastEntry = NO_DESC;
        buildWritableSeen = false;
        return true;
    }

    @Override
    public void reqAddIov(long address, int length, boolean deviceWritable) {
        int id = buildId;
        if (id == NO_DESC) {
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
        int flags = deviceWritable ? VIRTQ_DESC_F_WRITE : 0;
        if (indirectId[id]) {
            // Entries of a packed indirect table are consecutive: no NEXT (virtio 2.8.19).
            writeDesc(indirect, indirectTableOffset(id) + PackedRingLayout.descOffset(buildAdded), address, length, 0, flags);
        } else {
            boolean last = buildAdded == buildDeclared - 1;
            int pos = advance(headPos[id], buildAdded);
            int entry = buildAdded == 0 ? id : ids.next(buildLastEntry);
            int chained = last ? flags : flags | VIRTQ_DESC_F_NEXT;
            writeSlot(pos, entry, address, length, id, chained, buildAdded == 0);
            buildLastEntry = entry;
        }
        buildAdded++;
        postedBytes[id] += length;
        if (deviceWritable) {
            writableBytes[id] += length;
            buildWritableSeen = true;
        }
    }

    @Override
    public void reqFlush() {
        if (buildId != NO_DESC) {
            finishRequest();
        }
        if (queuedCount == 0) {
            return;
        }
        int oldPos = publishedPos;
        for (int i = 0; i < queuedCount; i++) {
            int id = queuedIds[i];
            idState[id] = ID_PUBLISHED;
            publishSeq[id] = nextSeq++;
            RING_U16.setRelease(ring, PackedRingLayout.descOffset(slotOf(headPos[id])) + DESC_FLAGS_OFFSET, (short) headFlags[id]);
        }
        publishedCount += queuedCount;
        queuedCount = 0;
        publishedPos = availPos;
        // Our flag stores before reading the device's wish, or both sides can decide the other will act.
        VarHandle.fullFence();
        int event = (int) RING_U32.getAcquire(deviceArea, (long) EVENT_OFF_WRAP_OFFSET);
        int flags = event >>> 16;
        boolean kick;
        if (flags == RING_EVENT_FLAGS_DESC) {
            int added = Math.floorMod(publishedPos - oldPos, positions);
            int newSlot = slotOf(publishedPos);
            kick = PackedRingLayout.needEvent(event & 0xFFFF, wrapOf(publishedPos), newSlot, newSlot - added, size);
        } else {
            kick = flags != RING_EVENT_FLAGS_DISABLE;
        }
        if (kick) {
            notifier.notifyQueue(this);
        }
    }

    @Override
    public void reqAbort() {
        if (buildId == NO_DESC) {
            return;
        }
        int id = buildId;
        buildId = NO_DESC;
        retract(headPos[id], indirectId[id] ? 0 : buildAdded);
        availPos = headPos[id];
        freeSlots += chainLength[id];
        releaseId(id);
    }

    @Override
    public int poll(int max, UsedSink sink) {
        if (brokenCause != null || max <= 0) {
            return 0;
        }
        if (polling) {
            throw new IllegalStateException(label + ": poll called from a completion callback");
        }
        int startEpoch = epoch;
        int delivered = 0;
        polling = true;
        try {
            while (delivered < max) {
                int pos = usedPos;
                long off = PackedRingLayout.descOffset(slotOf(pos));
                int flags = (short) RING_U16.getAcquire(ring, off + DESC_FLAGS_OFFSET) & 0xFFFF;
                boolean wrap = wrapOf(pos);
                int wrapBits = flags & WRAP_BITS;
                if (wrapBits != PackedRingLayout.usedFlags(wrap)) {
                    if (publishedCount > 0 && wrapBits != PackedRingLayout.availFlags(wrap)) {
                        return delivered + breakQueue(RingViolation.USED_FLAGS_INVALID, "slot " + slotOf(pos) + " (wrap " + (wrap ? 1 : 0)
                                + ") has flags 0x" + Integer.toHexString(flags) + ": neither available nor used in this lap", sink);
                    }
                    break;
                }
                if (publishedCount == 0) {
                    return delivered + breakQueue(RingViolation.USED_INDEX_JUMP, "slot " + slotOf(pos) + " (wrap " + (wrap ? 1 : 0)
                            + ") is marked used, but no request is in flight", sink);
                }
                // Read each field once: the device may change them under us.
                int id = (ring.get(LE_SHORT, off + DESC_ID_OFFSET)) & 0xFFFF;
                int len = ring.get(LE_INT, off + DESC_LEN_OFFSET);
                if (id >= size) {
                    return delivered + breakQueue(RingViolation.ID_OUT_OF_RANGE, "used descriptor in slot " + slotOf(pos)
                            + " has buffer id " + id + ", out of range (queue size " + size + ")", sink);
                }
                if (idState[id] != ID_PUBLISHED) {
                    return delivered + breakQueue(RingViolation.ID_NOT_IN_FLIGHT, "used descriptor in slot " + slotOf(pos)
                            + " has buffer id " + id + ", which is not a request in flight", sink);
                }
                if (Integer.toUnsignedLong(len) > writableBytes[id]) {
                    if (Integer.toUnsignedLong(len) > postedBytes[id]) {
                        return delivered + breakQueue(RingViolation.LEN_TOO_LARGE, "used descriptor in slot " + slotOf(pos)
                                + " (id " + id + ") has len " + Integer.toUnsignedString(len) + ", more than the "
                                + postedBytes[id] + " bytes posted (" + writableBytes[id] + " writable)", sink);
                    }
                    len = capOverlongLen(pos, id, len);
                }
                Object cookie = cookies[id];
                publishedCount--;
                usedPos = advance(pos, chainLength[id]);
                freeSlots += chainLength[id];
                releaseId(id);
                delivered++;
                sink.onUsed(cookie, len);
                if (epoch != startEpoch || brokenCause != null) {
                    return delivered;
                }
            }
        } finally {
            polling = false;
        }
        if (delivered > 0 && interruptsEnabled && eventIdx) {
            writeDriverOffWrap();
            // Linux's virtio_store_mb: the device must see the new off_wrap before we next read the ring.
            VarHandle.fullFence();
        }
        return delivered;
    }

    private int capOverlongLen(int pos, int id, int len) {
        if (overlongUsedLengths++ == 0) {
            LOG.warn("{}: used descriptor in slot {} (id {}) has len {}, more than the {} writable bytes posted but within the {} posted;"
                    + " taken as {}; not logged again for this queue",
                    label, slotOf(pos), id, Integer.toUnsignedString(len), writableBytes[id], postedBytes[id], writableBytes[id]);
        }
        return (int) writableBytes[id];
    }

    @Override
    public long overlongUsedLengths() {
        return overlongUsedLengths;
    }

    @Override
    public boolean hasUsed() {
        long off = PackedRingLayout.descOffset(slotOf(usedPos)) + DESC_FLAGS_OFFSET;
        int flags = (short) RING_U16.getAcquire(ring, off) & 0xFFFF;
        return (flags & WRAP_BITS) == PackedRingLayout.usedFlags(wrapOf(usedPos));
    }

    @Override
    public void setInterruptsEnabled(boolean enabled) {
        interruptsEnabled = enabled;
        int flags;
        if (!enabled) {
            flags = RING_EVENT_FLAGS_DISABLE;
        } else if (eventIdx) {
            writeDriverOffWrap();
            flags = RING_EVENT_FLAGS_DESC;
        } else {
            flags = RING_EVENT_FLAGS_ENABLE;
        }
        RING_U16.setRelease(driverArea, (long) EVENT_FLAGS_OFFSET, (short) flags);
        VarHandle.fullFence();
    }

    @Override
    public boolean interruptsEnabled() {
        return interruptsEnabled;
    }

    @Override
    public boolean isBroken() {
        return brokenCause != null;
    }

    @Override
    public String brokenReason() {
        return brokenCause == null ? null : brokenCause.getMessage();
    }

    @Override
    public RingViolationException brokenCause() {
        return brokenCause;
    }

    @Override
    public int inFlight() {
        return (buildId != NO_DESC ? 1 : 0) + queuedCount + publishedCount;
    }

    @Override
    public int freeDescriptors() {
        return freeSlots;
    }

    /**
     * {@inheritDoc} The used position jumps to the published position; slots of requests never
     * published are made neither available nor used.
     */
    @Override
    public int failAll(VirtioException error, UsedSink sink) {
        Objects.requireNonNull(error, "error");
        Object[] victims = resetInFlight();
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
     * {@inheritDoc} The requests still in flight are written again from their Java records, oldest
     * first, from the used position on (the old device may have overwritten or the ring order may no
     * longer match them); queued ones follow unpublished, then the one being built. The device area is
     * cleared (a dead device's DISABLE would stop every kick).
     */
    @Override
    public int prepareReplay() {
        if (hasUsed()) {
            throw new IllegalStateException(label + ": used descriptors not yet taken; poll before preparing a replay");
        }
        int total = publishedCount + queuedCount + (buildId != NO_DESC ? 1 : 0);
        int[] order = new int[total];
        int n = 0;
        for (int id = 0; id < size; id++) {
            if (idState[id] == ID_PUBLISHED) {
                order[n++] = id;
            }
        }
        int published = n;
        sortBySeq(order, published);
        for (int i = 0; i < queuedCount; i++) {
            order[n++] = queuedIds[i];
        }
        if (buildId != NO_DESC) {
            order[n++] = buildId;
        }
        int pos = usedPos;
        for (int k = 0; k < n; k++) {
            int id = order[k];
            int written = writtenSlots(id);
            headPos[id] = pos;
            int entry = id;
            for (int j = 0; j < written; j++, entry = ids.next(entry)) {
                int p = advance(pos, j);
                boolean head = j == 0;
                writeSlot(p, entry, entryAddr[entry], entryLen[entry], id, entryFlags[entry], head);
                if (head) {
                    if (k < published) {
                        ring.set(LE_SHORT, PackedRingLayout.descOffset(slotOf(p)) + DESC_FLAGS_OFFSET, (short) headFlags[id]);
                    } else {
                        retract(p, 1);
                    }
                }
            }
            pos = advance(pos, chainLength[id]);
        }
        publishedPos = published == 0 ? usedPos : advance(headPos[order[published - 1]], chainLength[order[published - 1]]);
        deviceArea.set(LE_SHORT, (long) EVENT_OFF_WRAP_OFFSET, (short) 0);
        deviceArea.set(LE_SHORT, (long) EVENT_FLAGS_OFFSET, (short) RING_EVENT_FLAGS_ENABLE);
        setInterruptsEnabled(interruptsEnabled);
        int base = lastUsedIndex();
        LOG.debug("{}: replay prepared from {} (slot {}, wrap {}): {} request(s) in flight, {} queued", label, base,
                slotOf(usedPos), wrapOf(usedPos) ? 1 : 0, published, queuedCount);
        return base;
    }

    @Override
    public void kick() {
        notifier.notifyQueue(this);
    }

    @Override
    public int lastUsedIndex() {
        return PackedRingLayout.offWrap(slotOf(usedPos), wrapOf(usedPos));
    }

    @Override
    public int availIndex() {
        return PackedRingLayout.offWrap(slotOf(publishedPos), wrapOf(publishedPos));
    }

    @Override
    public String toString() {
        return label + " size " + size + ", in flight " + inFlight() + ", free " + freeSlots
                + (brokenCause != null ? ", broken: " + brokenDetail : "");
    }

    /** Closes the request being built: its head descriptor is final, it waits for the next flush. */
    private void finishRequest() {
        int id = buildId;
        if (buildAdded == 0) {
            reqAbort();
            throw new IllegalStateException(label + ": request finished without buffers (dropped)");
        }
        int writableFlag = buildWritableSeen ? VIRTQ_DESC_F_WRITE : 0;
        if (indirectId[id]) {
            writeSlot(headPos[id], id, indirect.address() + indirectTableOffset(id), (int) PackedRingLayout.descOffset(buildAdded),
                    id, VIRTQ_DESC_F_INDIRECT, true);
        } else if (buildAdded < buildDeclared) {
            // The last buffer added was written with NEXT in expectation of more.
            int lastPos = advance(headPos[id], buildAdded - 1);
            int last = buildLastEntry;
            writeSlot(lastPos, last, entryAddr[last], entryLen[last], id, writableFlag, buildAdded == 1);
            int unused = buildDeclared - buildAdded;
            ids.give(ids.cutAfter(last), unused);
            availPos = advance(availPos, -unused);
            freeSlots += unused;
            chainLength[id] = buildAdded;
        }
        idState[id] = ID_QUEUED;
        queuedIds[queuedCount++] = id;
        buildId = NO_DESC;
    }

    /**
     * Writes one descriptor and records it. A head's flags are only remembered (stored at publication);
     * any other descriptor gets the avail bits of its slot's lap now.
     */
    private void writeSlot(int pos, int entry, long address, int length, int id, int flags, boolean head) {
        int slot = slotOf(pos);
        long off = PackedRingLayout.descOffset(slot);
        ring.set(LE_LONG, off + DESC_ADDR_OFFSET, address);
        ring.set(LE_INT, off + DESC_LEN_OFFSET, length);
        ring.set(LE_SHORT, off + DESC_ID_OFFSET, (short) id);
        int withWrap = (flags & FLAG_BITS_MASK) | PackedRingLayout.availFlags(wrapOf(pos));
        if (head) {
            headFlags[id] = withWrap;
        } else {
            ring.set(LE_SHORT, off + DESC_FLAGS_OFFSET, (short) withWrap);
        }
        entryAddr[entry] = address;
        entryLen[entry] = length;
        entryFlags[entry] = (short) (flags & FLAG_BITS_MASK);
    }

    /** Makes {@code count} slots from {@code pos} neither available (to the device) nor used (to us) in their lap. */
    private void retract(int pos, int count) {
        for (int j = 0; j < count; j++) {
            int p = advance(pos, j);
            ring.set(LE_SHORT, PackedRingLayout.descOffset(slotOf(p)) + DESC_FLAGS_OFFSET,
                    (short) PackedRingLayout.usedFlags(!wrapOf(p)));
        }
    }

    /** @return slots holding descriptors of request {@code id}: the one being built has only those added (none yet if indirect) */
    private int writtenSlots(int id) {
        if (id != buildId) {
            return chainLength[id];
        }
        return indirectId[id] ? 0 : buildAdded;
    }

    private void releaseId(int id) {
        ids.give(id, chainLength[id]);
        cookies[id] = null;
        idState[id] = ID_FREE;
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

    /** Forgets every request in flight before any callback runs. Error path only: allocates. */
    private Object[] resetInFlight() {
        Object[] victims = new Object[inFlight()];
        int n = 0;
        for (int id = 0; id < size && n < victims.length; id++) {
            if (idState[id] != ID_FREE) {
                victims[n++] = cookies[id];
            }
        }
        // Descriptors written for requests the device never saw must not look available to it later.
        retract(publishedPos, Math.floorMod(availPos - publishedPos, positions));
        Arrays.fill(cookies, null);
        Arrays.fill(idState, ID_FREE);
        ids.reset();
        buildId = NO_DESC;
        queuedCount = 0;
        publishedCount = 0;
        availPos = publishedPos;
        usedPos = publishedPos;
        freeSlots = size;
        return victims;
    }

    private void writeDriverOffWrap() {
        RING_U16.setRelease(driverArea, (long) EVENT_OFF_WRAP_OFFSET, (short) lastUsedIndex());
    }

    private void sortBySeq(int[] order, int count) {
        Integer[] boxed = new Integer[count];
        for (int i = 0; i < count; i++) {
            boxed[i] = order[i];
        }
        Arrays.sort(boxed, (a, b) -> Long.compare(publishSeq[a], publishSeq[b]));
        for (int i = 0; i < count; i++) {
            order[i] = boxed[i];
        }
    }

    private int advance(int pos, int by) {
        int p = pos + by;
        if (p >= positions) {
            p -= positions;
        } else if (p < 0) {
            p += positions;
        }
        return p;
    }

    private int slotOf(int pos) {
        return pos < size ? pos : pos - size;
    }

    /** The wrap counter of a position: 1 in the first lap (the spec's initial value), 0 in the second. */
    private boolean wrapOf(int pos) {
        return pos < size;
    }

    private long indirectTableOffset(int id) {
        return id * indirectTableBytes;
    }

    private RingViolationException brokenError() {
        return new RingViolationException(brokenCause.violation(), label + " is broken: " + brokenDetail, brokenCause);
    }

    private static void writeDesc(MemorySegment table, long offset, long address, int length, int id, int flags) {
        table.set(LE_LONG, offset + DESC_ADDR_OFFSET, address);
        table.set(LE_INT, offset + DESC_LEN_OFFSET, length);
        table.set(LE_SHORT, offset + DESC_ID_OFFSET, (short) id);
        table.set(LE_SHORT, offset + DESC_FLAGS_OFFSET, (short) flags);
    }

    private static String describe(MemorySegment segment) {
        return (segment.isNative() ? "native" : "heap") + " segment of " + segment.byteSize() + " bytes at 0x"
                + Long.toHexString(segment.address());
    }
}
