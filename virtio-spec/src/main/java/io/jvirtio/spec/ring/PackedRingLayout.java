package io.jvirtio.spec.ring;

/**
 * The packed virtqueue's memory layout (virtio 1.2, section 2.8), as named constants and offset
 * functions, shared by the driver ({@code PackedVirtqueue}) and by anything that plays the device.
 *
 * <pre>
 * descriptor ring   @ 0                      size x { addr u64 @0, len u32 @8, id u16 @12, flags u16 @14 }
 * driver area       @ align(16 x size, 64)   { off_wrap u16 @0, flags u16 @2 }  (driver event suppression)
 * device area       @ driver area + 64       { off_wrap u16 @0, flags u16 @2 }  (device event suppression)
 * </pre>
 *
 * Every field is little-endian. The spec asks 16-byte alignment of the ring and 4-byte alignment of
 * the event suppression structures; each of those is put on a cache line of its own here because the
 * driver writes one and the device the other. A descriptor is available in the driver's lap
 * {@code w} (its avail wrap counter) when its {@link #VIRTQ_DESC_F_AVAIL} bit is {@code w} and its
 * {@link #VIRTQ_DESC_F_USED} bit is not; used when both bits equal the driver's used wrap counter.
 */
public final class PackedRingLayout {
    /** Descriptor flag: the buffer continues in the next descriptor of the ring (same as split). */
    public static final int VIRTQ_DESC_F_NEXT = 1;
    /** Descriptor flag: the device writes this buffer (same as split). */
    public static final int VIRTQ_DESC_F_WRITE = 2;
    /** Descriptor flag: the buffer is a table of packed descriptors (same as split). */
    public static final int VIRTQ_DESC_F_INDIRECT = 4;
    /** Descriptor flag: the driver's avail bit, set to its avail wrap counter when it makes the descriptor available. */
    public static final int VIRTQ_DESC_F_AVAIL = 1 << 7;
    /** Descriptor flag: the used bit; the device sets AVAIL and USED to its used wrap counter when it uses a buffer. */
    public static final int VIRTQ_DESC_F_USED = 1 << 15;

    /** Event suppression flags: notifications (interrupts, kicks) wanted. */
    public static final int RING_EVENT_FLAGS_ENABLE = 0;
    /** Event suppression flags: no notifications wanted. */
    public static final int RING_EVENT_FLAGS_DISABLE = 1;
    /** Event suppression flags: a notification when the ring reaches {@code off_wrap} (needs EVENT_IDX). */
    public static final int RING_EVENT_FLAGS_DESC = 2;
    /** Bit of {@code off_wrap} (and of vhost-user's vring base) holding the wrap counter; bits 0..14 hold the slot. */
    public static final int RING_EVENT_WRAP_SHIFT = 15;
    /** Mask of the slot in {@code off_wrap} (and in vhost-user's vring base). */
    public static final int RING_EVENT_OFFSET_MASK = (1 << RING_EVENT_WRAP_SHIFT) - 1;

    /** Largest queue size the spec allows for a packed ring (2^15); any size from 1 up, not only powers of two. */
    public static final int VIRTQUEUE_MAX_SIZE = 1 << 15;

    /** Bytes per descriptor; also the required alignment of the ring and of an indirect table. */
    public static final int DESC_SIZE = 16;
    /** Offset of {@code addr} (u64) in a descriptor. */
    public static final int DESC_ADDR_OFFSET = 0;
    /** Offset of {@code len} (u32) in a descriptor. */
    public static final int DESC_LEN_OFFSET = 8;
    /** Offset of {@code id} (u16, the buffer id) in a descriptor. */
    public static final int DESC_ID_OFFSET = 12;
    /** Offset of {@code flags} (u16) in a descriptor. */
    public static final int DESC_FLAGS_OFFSET = 14;

    /** Offset of {@code off_wrap} (u16) in an event suppression structure. */
    public static final int EVENT_OFF_WRAP_OFFSET = 0;
    /** Offset of {@code flags} (u16) in an event suppression structure. */
    public static final int EVENT_FLAGS_OFFSET = 2;
    /** Bytes of an event suppression structure. */
    public static final int EVENT_SUPPRESS_SIZE = 4;
    /** Where each event suppression structure starts: a cache line of its own. */
    public static final int EVENT_AREA_ALIGN = 64;
    /** Alignment of the whole ring allocation. */
    public static final int RING_ALIGN = 4096;

    private PackedRingLayout() {
    }

    /**
     * @param size a queue size
     * @return true when it is in 1..{@link #VIRTQUEUE_MAX_SIZE}
     */
    public static boolean isValidSize(int size) {
        return size > 0 && size <= VIRTQUEUE_MAX_SIZE;
    }

    /** @return offset of the descriptor ring from the start of the ring allocation (always 0) */
    public static long descRingOffset() {
        return 0;
    }

    /**
     * @param size the queue size
     * @return offset of the driver event suppression structure (the driver area)
     */
    public static long driverAreaOffset(int size) {
        return align((long) checkSize(size) * DESC_SIZE, EVENT_AREA_ALIGN);
    }

    /**
     * @param size the queue size
     * @return offset of the device event suppression structure (the device area)
     */
    public static long deviceAreaOffset(int size) {
        return driverAreaOffset(size) + EVENT_AREA_ALIGN;
    }

    /**
     * @param size the queue size
     * @return bytes the whole ring needs
     */
    public static long totalBytes(int size) {
        return deviceAreaOffset(size) + EVENT_AREA_ALIGN;
    }

    /**
     * @param slot a ring slot (0..size-1) or an index in an indirect table
     * @return offset of that descriptor
     */
    public static long descOffset(int slot) {
        return (long) slot * DESC_SIZE;
    }

    /**
     * @param wrap a wrap counter (true = 1)
     * @return the AVAIL/USED bits of a descriptor the driver makes available in lap {@code wrap}
     */
    public static int availFlags(boolean wrap) {
        return wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED;
    }

    /**
     * @param wrap a wrap counter (true = 1)
     * @return the AVAIL/USED bits of a descriptor the device marks used in lap {@code wrap}
     */
    public static int usedFlags(boolean wrap) {
        return wrap ? VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED : 0;
    }

    /**
     * @param slot a ring slot, 0..32767
     * @param wrap its wrap counter
     * @return the 16-bit {@code off_wrap} / vring base encoding: slot in bits 0..14, wrap in bit 15
     */
    public static int offWrap(int slot, boolean wrap) {
        return (slot & RING_EVENT_OFFSET_MASK) | (wrap ? 1 << RING_EVENT_WRAP_SHIFT : 0);
    }

    /**
     * Linux's {@code vring_packed_need_event} reduced to the split ring's test: whether moving a ring
     * position from {@code oldIdx} to {@code newIdx} (slots, {@code newIdx} in lap {@code wrap}; {@code oldIdx}
     * may be negative after a wrap) crossed the peer's {@code off_wrap}.
     *
     * @param offWrap the peer's event {@code off_wrap}
     * @param wrap    the wrap counter of {@code newIdx}
     * @param newIdx  the slot after the update
     * @param oldIdx  the position before the update ({@code newIdx} minus the slots added, not reduced modulo size)
     * @param size    the queue size
     * @return true if the peer must be notified
     */
    public static boolean needEvent(int offWrap, boolean wrap, int newIdx, int oldIdx, int size) {
        int eventIdx = offWrap & RING_EVENT_OFFSET_MASK;
        boolean eventWrap = (offWrap >>> RING_EVENT_WRAP_SHIFT & 1) != 0;
        if (eventWrap != wrap) {
            eventIdx -= size;
        }
        return SplitRingLayout.needEvent(eventIdx & SplitRingLayout.RING_INDEX_MASK, newIdx & SplitRingLayout.RING_INDEX_MASK,
                oldIdx & SplitRingLayout.RING_INDEX_MASK);
    }

    private static int checkSize(int size) {
        if (!isValidSize(size)) {
            throw new IllegalArgumentException("packed queue size " + size + " is not in 1.." + VIRTQUEUE_MAX_SIZE);
        }
        return size;
    }

    private static long align(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }
}
