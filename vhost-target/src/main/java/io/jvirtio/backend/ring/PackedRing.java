package io.jvirtio.backend.ring;

import io.jvirtio.spec.ring.PackedRingLayout;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static io.jvirtio.spec.ring.PackedRingLayout.DESC_FLAGS_OFFSET;
import static io.jvirtio.spec.ring.PackedRingLayout.DESC_ID_OFFSET;
import static io.jvirtio.spec.ring.PackedRingLayout.DESC_LEN_OFFSET;
import static io.jvirtio.spec.ring.PackedRingLayout.EVENT_FLAGS_OFFSET;
import static io.jvirtio.spec.ring.PackedRingLayout.EVENT_OFF_WRAP_OFFSET;
import static io.jvirtio.spec.ring.PackedRingLayout.VIRTQ_DESC_F_AVAIL;
import static io.jvirtio.spec.ring.PackedRingLayout.VIRTQ_DESC_F_USED;
import static io.jvirtio.spec.ring.SplitRingLayout.LE_INT;
import static io.jvirtio.spec.ring.SplitRingLayout.LE_SHORT;

/**
 * The device's view of one packed virtqueue in front-end memory (virtio 1.2, 2.8): the descriptor
 * ring, which both sides write, the driver event suppression structure (driver area, read) and the
 * device's own (device area, written). A descriptor's flags are read with acquire and a used
 * descriptor's flags stored with release, last; every other field is plain. Bounds come from the
 * segments, sized exactly for the queue.
 *
 * <p>Only field access lives here; the rules are {@link DeviceQueue}'s and {@link PackedChainReader}'s.
 */
final class PackedRing {
    private static final VarHandle U16 = LE_SHORT.varHandle().withInvokeExactBehavior();
    private static final VarHandle U32 = LE_INT.varHandle().withInvokeExactBehavior();

    static final int DESC_ALIGN = PackedRingLayout.DESC_SIZE;
    static final int EVENT_ALIGN = PackedRingLayout.EVENT_SUPPRESS_SIZE;

    private final int size;
    private final MemorySegment desc;
    private final MemorySegment driverArea;
    private final MemorySegment deviceArea;

    PackedRing(int size, MemorySegment desc, MemorySegment driverArea, MemorySegment deviceArea) {
        this.size = size;
        this.desc = desc;
        this.driverArea = driverArea;
        this.deviceArea = deviceArea;
    }

    static long descBytes(int size) {
        return (long) size * PackedRingLayout.DESC_SIZE;
    }

    int size() {
        return size;
    }

    MemorySegment descRing() {
        return desc;
    }

    /** @return whether the descriptor in {@code slot} is available in the lap of wrap counter {@code wrap} */
    boolean isAvail(int slot, boolean wrap) {
        int flags = Short.toUnsignedInt((short) U16.getAcquire(desc, PackedRingLayout.descOffset(slot) + DESC_FLAGS_OFFSET));
        return ((flags & VIRTQ_DESC_F_AVAIL) != 0) == wrap && ((flags & VIRTQ_DESC_F_USED) != 0) != wrap;
    }

    /** Writes a used descriptor: id and len first, then its flags (AVAIL = USED = {@code wrap}) with release. */
    void writeUsed(int slot, int id, int len, boolean wrap) {
        long off = PackedRingLayout.descOffset(slot);
        desc.set(LE_SHORT, off + DESC_ID_OFFSET, (short) id);
        desc.set(LE_INT, off + DESC_LEN_OFFSET, len);
        U16.setRelease(desc, off + DESC_FLAGS_OFFSET, (short) PackedRingLayout.usedFlags(wrap));
    }

    /** @return the driver event suppression structure as one read: off_wrap in bits 0..15, flags in 16..31 */
    int driverEvent() {
        return (int) U32.getAcquire(driverArea, (long) EVENT_OFF_WRAP_OFFSET);
    }

    /** Sets the device event suppression structure: off_wrap first, then flags with release. */
    void setDeviceEvent(int offWrap, int flags) {
        deviceArea.set(LE_SHORT, (long) EVENT_OFF_WRAP_OFFSET, (short) offWrap);
        U16.setRelease(deviceArea, (long) EVENT_FLAGS_OFFSET, (short) flags);
    }
}
