package io.jvirtio.backend.ring;

import io.jvirtio.backend.mem.GuestMemory;
import io.jvirtio.spec.ring.PackedRingLayout;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static io.jvirtio.spec.ring.PackedRingLayout.DESC_ADDR_OFFSET;
import static io.jvirtio.spec.ring.PackedRingLayout.DESC_FLAGS_OFFSET;
import static io.jvirtio.spec.ring.PackedRingLayout.DESC_ID_OFFSET;
import static io.jvirtio.spec.ring.PackedRingLayout.DESC_LEN_OFFSET;
import static io.jvirtio.spec.ring.PackedRingLayout.DESC_SIZE;
import static io.jvirtio.spec.ring.PackedRingLayout.VIRTQ_DESC_F_INDIRECT;
import static io.jvirtio.spec.ring.PackedRingLayout.VIRTQ_DESC_F_NEXT;
import static io.jvirtio.spec.ring.PackedRingLayout.VIRTQ_DESC_F_WRITE;

/**
 * Reads one request from a packed ring (virtio 1.2, 2.8.6-2.8.8): a chain of consecutive available
 * descriptors ending at the first without NEXT, whose last descriptor carries the buffer id, or one
 * INDIRECT descriptor whose table entries are consecutive (no NEXT). {@link #scan} finds the chain's
 * slots and buffer id; {@link #fill} then translates its buffers into the request, checking each value
 * again (the driver may have changed the ring in between).
 */
final class PackedChainReader {
    private static final ValueLayout.OfLong ADDR = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LEN = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private PackedChainReader() {
    }

    /**
     * @return the chain's length in slots (bits 0..15) and its buffer id (bits 16..31)
     * @throws DriverRingException on a chain longer than the ring or a member that is not available
     */
    static int scan(String queue, PackedRing ring, int slot, boolean wrap) {
        int size = ring.size();
        MemorySegment desc = ring.descRing();
        int s = slot;
        boolean w = wrap;
        for (int count = 1; ; count++) {
            if (count > 1 && !ring.isAvail(s, w)) {
                throw new DriverRingException(queue + ": packed chain from slot " + slot + ": slot " + s
                        + " follows a NEXT descriptor but is not available (spec 2.8.6: the driver makes the head available last)");
            }
            int flags = Short.toUnsignedInt(desc.get(U16, PackedRingLayout.descOffset(s) + DESC_FLAGS_OFFSET));
            if ((flags & VIRTQ_DESC_F_NEXT) == 0) {
                int id = Short.toUnsignedInt(desc.get(U16, PackedRingLayout.descOffset(s) + DESC_ID_OFFSET));
                return count | id << 16;
            }
            if (count == size) {
                throw new DriverRingException(queue + ": packed chain from slot " + slot + " is longer than the ring of " + size);
            }
            if (++s == size) {
                s = 0;
                w = !w;
            }
        }
    }

    /**
     * Translates the {@code slots} descriptors from {@code slot} into {@code r}, from any descriptor
     * array of {@code size} slots laid out as a packed ring: the ring itself, or a chain copied back
     * from the inflight area.
     *
     * @throws DriverRingException naming the slot and the value that break the rules
     */
    static void fill(String queue, MemorySegment desc, int size, int slot, int slots, GuestMemory memory, boolean indirect, QueueRequest r) {
        int s = slot;
        for (int j = 0; j < slots; j++) {
            long off = PackedRingLayout.descOffset(s);
            int flags = Short.toUnsignedInt(desc.get(U16, off + DESC_FLAGS_OFFSET));
            long addr = desc.get(ADDR, off + DESC_ADDR_OFFSET);
            long len = Integer.toUnsignedLong(desc.get(LEN, off + DESC_LEN_OFFSET));
            if ((flags & VIRTQ_DESC_F_INDIRECT) != 0) {
                if (!indirect) {
                    throw new DriverRingException(queue + ": slot " + s + " has VIRTQ_DESC_F_INDIRECT but VIRTIO_RING_F_INDIRECT_DESC was not negotiated");
                }
                if (slots != 1 || (flags & VIRTQ_DESC_F_NEXT) != 0) {
                    throw new DriverRingException(queue + ": slot " + s + " has VIRTQ_DESC_F_INDIRECT inside a chain (spec 2.8.19)");
                }
                readIndirect(queue, s, addr, len, memory, r);
                return;
            }
            add(queue, s, -1, flags, addr, len, memory, r);
            if (++s == size) {
                s = 0;
            }
        }
    }

    private static void readIndirect(String queue, int slot, long addr, long len, GuestMemory memory, QueueRequest r) {
        if (len == 0 || len % DESC_SIZE != 0 || len / DESC_SIZE > ChainReader.MAX_INDIRECT_DESCRIPTORS) {
            throw new DriverRingException(queue + ": indirect table of slot " + slot + " has len " + len + ", expected a non-zero multiple of "
                    + DESC_SIZE + " up to " + (ChainReader.MAX_INDIRECT_DESCRIPTORS * DESC_SIZE));
        }
        MemorySegment t = memory.gpa(addr, len);
        if (t == null) {
            throw new DriverRingException(queue + ": indirect table of slot " + slot + " at [0x" + Long.toHexString(addr) + ", +" + len
                    + ") is not inside one region of the memory table");
        }
        for (int i = 0; i < len / DESC_SIZE; i++) {
            long off = PackedRingLayout.descOffset(i);
            int flags = Short.toUnsignedInt(t.get(U16, off + DESC_FLAGS_OFFSET));
            if ((flags & VIRTQ_DESC_F_INDIRECT) != 0) {
                throw new DriverRingException(queue + ": entry " + i + " of the indirect table of slot " + slot + " has VIRTQ_DESC_F_INDIRECT");
            }
            add(queue, slot, i, flags, t.get(ADDR, off + DESC_ADDR_OFFSET),
                    Integer.toUnsignedLong(t.get(LEN, off + DESC_LEN_OFFSET)), memory, r);
        }
    }

    /** @param entry the entry of slot's indirect table, or -1 for the ring slot itself (the message is built only on an error) */
    private static void add(String queue, int slot, int entry, int flags, long addr, long len, GuestMemory memory, QueueRequest r) {
        boolean write = (flags & VIRTQ_DESC_F_WRITE) != 0;
        if (!write && r.writableCount() > 0) {
            throw new DriverRingException(queue + ": " + where(slot, entry) + " is device-readable after a device-writable one (spec 2.8.5)");
        }
        if (len == 0) {
            throw new DriverRingException(queue + ": " + where(slot, entry) + " has length 0");
        }
        boolean ok = memory.gpaRanges(addr, len, write ? r.writableSink : r.readableSink); // ranges, no slice per buffer
        if (!ok) {
            throw new DriverRingException(queue + ": " + where(slot, entry) + ": buffer [0x" + Long.toHexString(addr) + ", +" + len
                    + ") is not inside the memory table");
        }
        r.descriptorCount++;
    }

    private static String where(int slot, int entry) {
        return entry < 0 ? "slot " + slot : "entry " + entry + " of the indirect table of slot " + slot;
    }
}
