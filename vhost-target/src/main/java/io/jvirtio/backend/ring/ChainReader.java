package io.jvirtio.backend.ring;

import io.jvirtio.backend.mem.GuestMemory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static io.jvirtio.spec.ring.SplitRingLayout.*;

/**
 * Walks one descriptor chain (direct, or through one indirect table) and fills a
 * {@link QueueRequest} with its buffers translated into front-end memory. Every value read from
 * the ring is checked before it is used as an index or an address: next indices against the
 * table, chain length against the table size (no loops), indirect tables against the memory
 * table and the negotiated feature, buffers against the memory table, and the spec's order
 * (device-readable before device-writable).
 */
final class ChainReader {
    // Descriptor fields; unaligned because an indirect table's alignment is the driver's choice.
    private static final ValueLayout.OfLong ADDR = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LEN = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The most descriptors an indirect table may hold: the largest queue size (the spec bounds chains by it). */
    static final int MAX_INDIRECT_DESCRIPTORS = VIRTQUEUE_MAX_SIZE;

    private ChainReader() {
    }

    /** Where a descriptor is, for error messages only (built when one is thrown, not per chain). */
    private static String where(boolean inIndirect, int head) {
        return inIndirect ? " (indirect table of head " + head + ")" : "";
    }

    /**
     * @param queue    for messages
     * @param table    the queue's descriptor table
     * @param size     the queue size
     * @param head     the chain's head, already checked to be below {@code size}
     * @param memory   the memory table
     * @param indirect whether VIRTIO_RING_F_INDIRECT_DESC was negotiated
     * @param r        the request to fill (reset by the caller)
     * @throws DriverRingException naming the descriptor and the value that break the rules
     */
    static void read(String queue, MemorySegment table, int size, int head, GuestMemory memory, boolean indirect, QueueRequest r) {
        int max = size;
        int i = head;
        boolean inIndirect = false;
        int flags = Short.toUnsignedInt(table.get(U16, descOffset(i) + DESC_FLAGS_OFFSET));
        if ((flags & VRING_DESC_F_INDIRECT) != 0) {
            if (!indirect) {
                throw new DriverRingException(queue + ": descriptor " + i + " has VRING_DESC_F_INDIRECT but VIRTIO_RING_F_INDIRECT_DESC was not negotiated");
            }
            if ((flags & VRING_DESC_F_NEXT) != 0) {
                throw new DriverRingException(queue + ": descriptor " + i + " has both VRING_DESC_F_INDIRECT and VRING_DESC_F_NEXT (spec 2.7.5.3.1)");
            }
            long addr = table.get(ADDR, descOffset(i) + DESC_ADDR_OFFSET);
            long len = Integer.toUnsignedLong(table.get(LEN, descOffset(i) + DESC_LEN_OFFSET));
            if (len == 0 || len % DESC_SIZE != 0 || len / DESC_SIZE > MAX_INDIRECT_DESCRIPTORS) {
                throw new DriverRingException(queue + ": indirect table of descriptor " + i + " has len " + len
                        + ", expected a non-zero multiple of " + DESC_SIZE + " up to " + (MAX_INDIRECT_DESCRIPTORS * DESC_SIZE));
            }
            MemorySegment t = memory.gpa(addr, len);
            if (t == null) {
                throw new DriverRingException(queue + ": indirect table of descriptor " + i + " at [0x" + Long.toHexString(addr) + ", +" + len
                        + ") is not inside one region of the memory table");
            }
            table = t;
            max = (int) (len / DESC_SIZE);
            inIndirect = true;
            i = 0;
        }
        int count = 0;
        while (true) {
            if (++count > max) {
                throw new DriverRingException(queue + ": chain of head " + head + " is longer than " + max + " descriptors" + where(inIndirect, head)
                        + ": a descriptor loop");
            }
            long off = descOffset(i);
            long addr = table.get(ADDR, off + DESC_ADDR_OFFSET);
            long len = Integer.toUnsignedLong(table.get(LEN, off + DESC_LEN_OFFSET));
            flags = Short.toUnsignedInt(table.get(U16, off + DESC_FLAGS_OFFSET));
            if ((flags & VRING_DESC_F_INDIRECT) != 0) {
                throw new DriverRingException(queue + ": descriptor " + i + where(inIndirect, head) + " of head " + head
                        + " has VRING_DESC_F_INDIRECT inside a chain or an indirect table");
            }
            boolean write = (flags & VRING_DESC_F_WRITE) != 0;
            if (!write && r.writableCount() > 0) {
                throw new DriverRingException(queue + ": descriptor " + i + where(inIndirect, head) + " of head " + head
                        + " is device-readable after a device-writable one (spec 2.7.4.2)");
            }
            if (len == 0) {
                throw new DriverRingException(queue + ": descriptor " + i + where(inIndirect, head) + " of head " + head + " has length 0");
            }
            boolean ok = memory.gpaRanges(addr, len, write ? r.writableSink : r.readableSink);
            if (!ok) {
                throw new DriverRingException(queue + ": descriptor " + i + where(inIndirect, head) + " of head " + head + ": buffer [0x" + Long.toHexString(addr)
                        + ", +" + len + ") is not inside the memory table");
            }
            r.descriptorCount++;
            if ((flags & VRING_DESC_F_NEXT) == 0) {
                return;
            }
            int next = Short.toUnsignedInt(table.get(U16, off + DESC_NEXT_OFFSET));
            if (next >= max) {
                throw new DriverRingException(queue + ": descriptor " + i + where(inIndirect, head) + " of head " + head + " has next " + next + ", beyond "
                        + (max - 1));
            }
            i = next;
        }
    }
}
