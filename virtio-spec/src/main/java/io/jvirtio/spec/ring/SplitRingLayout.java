package io.jvirtio.spec.ring;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The split virtqueue's memory layout (virtio 1.x, section 2.7), as named constants and offset
 * functions, shared by the driver ({@link SplitVirtqueue}) and by anything that plays the device.
 *
 * <pre>
 * descriptor table  @ 0                     size x { addr u64 @0, len u32 @8, flags u16 @12, next u16 @14 }
 * avail (driver)    @ 16 x size             flags u16 @0, idx u16 @2, ring[size] u16 @4, used_event u16 @4+2n
 * used  (device)    @ align(.., 4096)       flags u16 @0, idx u16 @2, ring[size] {id u32, len u32} @4+8i,
 *                                           avail_event u16 @4+8n
 * </pre>
 *
 * Every field is little-endian (virtio 1.x). The used ring starts on a {@link #VIRTIO_PCI_VRING_ALIGN}
 * boundary, as the legacy layout and SPDK's {@code vring_size()} do, so one allocation works for every
 * transport.
 */
public final class SplitRingLayout {
    /** Descriptor flag: the buffer continues in the descriptor named by {@code next}. */
    public static final int VRING_DESC_F_NEXT = 1;
    /** Descriptor flag: the device writes this buffer (otherwise it only reads it). */
    public static final int VRING_DESC_F_WRITE = 2;
    /** Descriptor flag: the buffer is a table of descriptors (needs {@link #VIRTIO_RING_F_INDIRECT_DESC}). */
    public static final int VRING_DESC_F_INDIRECT = 4;

    /** avail.flags: the driver asks the device not to interrupt (ignored by the device with EVENT_IDX). */
    public static final int VRING_AVAIL_F_NO_INTERRUPT = 1;
    /** used.flags: the device asks the driver not to notify (kick) it (ignored with EVENT_IDX). */
    public static final int VRING_USED_F_NO_NOTIFY = 1;

    /** Feature bit: indirect descriptor tables. */
    public static final int VIRTIO_RING_F_INDIRECT_DESC = 28;
    /** Feature bit: {@code used_event} / {@code avail_event} notification suppression. */
    public static final int VIRTIO_RING_F_EVENT_IDX = 29;

    /** Alignment of the used ring (and of the whole ring allocation). */
    public static final int VIRTIO_PCI_VRING_ALIGN = 4096;
    /** Largest queue size the spec allows. */
    public static final int VIRTQUEUE_MAX_SIZE = 32768;
    /** Ring indices (avail.idx, used.idx, the event fields) are free-running 16-bit counters. */
    public static final int RING_INDEX_MASK = 0xFFFF;

    /** Bytes per descriptor; also the required alignment of a descriptor table. */
    public static final int DESC_SIZE = 16;
    /** Offset of {@code addr} (u64) in a descriptor. */
    public static final int DESC_ADDR_OFFSET = 0;
    /** Offset of {@code len} (u32) in a descriptor. */
    public static final int DESC_LEN_OFFSET = 8;
    /** Offset of {@code flags} (u16) in a descriptor. */
    public static final int DESC_FLAGS_OFFSET = 12;
    /** Offset of {@code next} (u16) in a descriptor. */
    public static final int DESC_NEXT_OFFSET = 14;

    /** Offset of {@code flags} (u16) in the avail ring. */
    public static final int AVAIL_FLAGS_OFFSET = 0;
    /** Offset of {@code idx} (u16) in the avail ring. */
    public static final int AVAIL_IDX_OFFSET = 2;
    /** Offset of {@code ring[0]} in the avail ring. */
    public static final int AVAIL_RING_OFFSET = 4;
    /** Bytes per avail ring element (a u16 head index). */
    public static final int AVAIL_ELEMENT_SIZE = 2;

    /** Offset of {@code flags} (u16) in the used ring. */
    public static final int USED_FLAGS_OFFSET = 0;
    /** Offset of {@code idx} (u16) in the used ring. */
    public static final int USED_IDX_OFFSET = 2;
    /** Offset of {@code ring[0]} in the used ring. */
    public static final int USED_RING_OFFSET = 4;
    /** Bytes per used ring element. */
    public static final int USED_ELEMENT_SIZE = 8;
    /** Offset of {@code id} (u32, the head descriptor index) in a used element. */
    public static final int USED_ELEMENT_ID_OFFSET = 0;
    /** Offset of {@code len} (u32, bytes written by the device) in a used element. */
    public static final int USED_ELEMENT_LEN_OFFSET = 4;

    /** A u16 ring field. */
    public static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** A u32 ring field. */
    public static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** A u64 ring field. */
    public static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN);

    private SplitRingLayout() {
    }

    /**
     * @param size a queue size
     * @return true when it is a power of two in 1..{@link #VIRTQUEUE_MAX_SIZE}, as the split ring needs
     */
    public static boolean isValidSize(int size) {
        return size > 0 && size <= VIRTQUEUE_MAX_SIZE && Integer.bitCount(size) == 1;
    }

    /** @return offset of the descriptor table from the start of the ring allocation (always 0) */
    public static long descTableOffset() {
        return 0;
    }

    /**
     * @param size the queue size
     * @return offset of the avail ring from the start of the ring allocation
     */
    public static long availOffset(int size) {
        return descTableOffset() + (long) checkSize(size) * DESC_SIZE;
    }

    /**
     * @param size the queue size
     * @return bytes of the avail ring: flags, idx, ring[size], used_event
     */
    public static long availBytes(int size) {
        return AVAIL_RING_OFFSET + (long) checkSize(size) * AVAIL_ELEMENT_SIZE + Short.BYTES;
    }

    /**
     * @param size the queue size
     * @return offset of the used ring from the start of the ring allocation, {@link #VIRTIO_PCI_VRING_ALIGN}-aligned
     */
    public static long usedOffset(int size) {
        return align(availOffset(size) + availBytes(size), VIRTIO_PCI_VRING_ALIGN);
    }

    /**
     * @param size the queue size
     * @return bytes of the used ring: flags, idx, ring[size], avail_event
     */
    public static long usedBytes(int size) {
        return USED_RING_OFFSET + (long) checkSize(size) * USED_ELEMENT_SIZE + Short.BYTES;
    }

    /**
     * @param size the queue size
     * @return bytes the whole ring needs (legacy {@code vring_size(size, 4096)})
     */
    public static long totalBytes(int size) {
        return usedOffset(size) + usedBytes(size);
    }

    /**
     * @param index a descriptor index
     * @return offset of that descriptor in a descriptor table (direct or indirect)
     */
    public static long descOffset(int index) {
        return (long) index * DESC_SIZE;
    }

    /**
     * @param slot an avail ring slot (index modulo size)
     * @return offset of {@code ring[slot]} from the start of the avail ring
     */
    public static long availRingOffset(int slot) {
        return AVAIL_RING_OFFSET + (long) slot * AVAIL_ELEMENT_SIZE;
    }

    /**
     * @param size the queue size
     * @return offset of {@code used_event} from the start of the avail ring
     */
    public static long usedEventOffset(int size) {
        return availRingOffset(checkSize(size));
    }

    /**
     * @param slot a used ring slot (index modulo size)
     * @return offset of {@code ring[slot]} from the start of the used ring
     */
    public static long usedRingOffset(int slot) {
        return USED_RING_OFFSET + (long) slot * USED_ELEMENT_SIZE;
    }

    /**
     * @param size the queue size
     * @return offset of {@code avail_event} from the start of the used ring
     */
    public static long availEventOffset(int size) {
        return usedRingOffset(checkSize(size));
    }

    /**
     * The spec's {@code vring_need_event}: whether moving an index from {@code oldIdx} to {@code newIdx}
     * crossed the peer's event index, i.e. whether the peer asked to be told. All arguments are 16-bit
     * ring indices; the arithmetic wraps like theirs.
     *
     * @param eventIdx the peer's {@code used_event} / {@code avail_event}
     * @param newIdx   the index after the update
     * @param oldIdx   the index before the update
     * @return true if the peer must be notified
     */
    public static boolean needEvent(int eventIdx, int newIdx, int oldIdx) {
        return ((newIdx - eventIdx - 1) & RING_INDEX_MASK) < ((newIdx - oldIdx) & RING_INDEX_MASK);
    }

    private static int checkSize(int size) {
        if (!isValidSize(size)) {
            throw new IllegalArgumentException("queue size " + size + " is not a power of two in 1.." + VIRTQUEUE_MAX_SIZE);
        }
        return size;
    }

    private static long align(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }
}
