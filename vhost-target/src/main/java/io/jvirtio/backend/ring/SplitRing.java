package io.jvirtio.backend.ring;

import io.jvirtio.spec.ring.SplitRingLayout;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static io.jvirtio.spec.ring.SplitRingLayout.*;

/**
 * The device's view of one split virtqueue in front-end memory (virtio 1.x, 2.7): the descriptor
 * table and avail ring, which the device only reads, and the used ring, which it writes. Indices
 * shared with the driver are read with acquire and published with release semantics; every other
 * field is plain. Bounds are guaranteed by the segments (sized exactly for the queue size).
 *
 * <p>Only field access lives here; the rules (what an index may be) are {@link DeviceQueue}'s.
 */
final class SplitRing {
    private static final VarHandle U16 = LE_SHORT.varHandle().withInvokeExactBehavior();

    /** Byte sizes the spec gives each part (2.7 "Split Virtqueues"), with the event fields. */
    static long descBytes(int size) {
        return (long) size * DESC_SIZE;
    }

    static long availBytes(int size) {
        return AVAIL_RING_OFFSET + (long) size * AVAIL_ELEMENT_SIZE + Short.BYTES;
    }

    static long usedBytes(int size) {
        return USED_RING_OFFSET + (long) size * USED_ELEMENT_SIZE + Short.BYTES;
    }

    /** Alignments the spec requires: descriptor table 16, avail 2, used 4. */
    static final int DESC_ALIGN = 16;
    static final int AVAIL_ALIGN = 2;
    static final int USED_ALIGN = 4;

    private final int size;
    private final int mask;
    private final MemorySegment desc;
    private final MemorySegment avail;
    private final MemorySegment used;

    SplitRing(int size, MemorySegment desc, MemorySegment avail, MemorySegment used) {
        this.size = size;
        this.mask = size - 1;
        this.desc = desc;
        this.avail = avail;
        this.used = used;
    }

    int size() {
        return size;
    }

    MemorySegment descTable() {
        return desc;
    }

    // ------------------------------------------------------------------ avail (driver-written)

    int availIdxAcquire() {
        return Short.toUnsignedInt((short) U16.getAcquire(avail, (long) AVAIL_IDX_OFFSET));
    }

    int availFlags() {
        return Short.toUnsignedInt((short) U16.getAcquire(avail, (long) AVAIL_FLAGS_OFFSET));
    }

    /** @return the head index at free-running avail index {@code idx} */
    int availHead(int idx) {
        return Short.toUnsignedInt(avail.get(LE_SHORT, availRingOffset(idx & mask)));
    }

    /** @return the driver's used_event (EVENT_IDX) */
    int usedEvent() {
        return Short.toUnsignedInt((short) U16.getAcquire(avail, usedEventOffset(size)));
    }

    // ------------------------------------------------------------------ used (device-written)

    int usedIdx() {
        return Short.toUnsignedInt((short) U16.getAcquire(used, (long) USED_IDX_OFFSET));
    }

    void writeUsedElement(int idx, int id, int len) {
        long off = usedRingOffset(idx & mask);
        used.set(LE_INT, off + USED_ELEMENT_ID_OFFSET, id);
        used.set(LE_INT, off + USED_ELEMENT_LEN_OFFSET, len);
    }

    /** Publishes used.idx: every element written before becomes visible to the driver first. */
    void publishUsedIdx(int idx) {
        U16.setRelease(used, (long) USED_IDX_OFFSET, (short) idx);
    }

    void setUsedFlags(int flags) {
        U16.setRelease(used, (long) USED_FLAGS_OFFSET, (short) flags);
    }

    /** Writes avail_event (EVENT_IDX): the driver kicks when it makes this index available. */
    void setAvailEvent(int idx) {
        U16.setRelease(used, availEventOffset(size), (short) idx);
    }

    static void fullFence() {
        VarHandle.fullFence();
    }

    /** @return the spec's check of a ring size: a power of two up to 32768 */
    static boolean validSize(int size) {
        return SplitRingLayout.isValidSize(size);
    }
}
