package io.jvirtio.spec.vhostuser;

import java.nio.ByteBuffer;

/**
 * One memory region of SET_MEM_TABLE, ADD_MEM_REG and REM_MEM_REG. jvirtio uses the process
 * virtual address as the guest address (as SPDK does): {@code guestPhysAddr == userspaceAddr}.
 *
 * @param guestPhysAddr the address the device uses for this memory
 * @param memorySize    the region size, &gt; 0
 * @param userspaceAddr the front-end's virtual address of the region
 * @param mmapOffset    where the region starts in the fd that travels with the message
 */
public record VhostUserMemoryRegion(long guestPhysAddr, long memorySize, long userspaceAddr, long mmapOffset)
        implements VhostUserPayload {
    /** Encoded size: four u64. */
    public static final int SIZE = 32;
    public static final int GUEST_PHYS_ADDR_OFFSET = 0;
    public static final int MEMORY_SIZE_OFFSET = 8;
    public static final int USERSPACE_ADDR_OFFSET = 16;
    public static final int MMAP_OFFSET_OFFSET = 24;

    /** @throws IllegalArgumentException on an empty region or one that wraps the address space */
    public VhostUserMemoryRegion {
        if (memorySize == 0) {
            throw new IllegalArgumentException("memory region at 0x" + Long.toHexString(userspaceAddr) + " has size 0");
        }
        if (Long.compareUnsigned(guestPhysAddr + memorySize, guestPhysAddr) < 0
                || Long.compareUnsigned(userspaceAddr + memorySize, userspaceAddr) < 0
                || Long.compareUnsigned(mmapOffset + memorySize, mmapOffset) < 0) {
            throw new IllegalArgumentException("memory region " + describe(guestPhysAddr, memorySize, userspaceAddr, mmapOffset)
                    + " wraps around 2^64");
        }
    }

    @Override
    public int size() {
        return SIZE;
    }

    @Override
    public void encode(ByteBuffer buf) {
        buf.putLong(guestPhysAddr).putLong(memorySize).putLong(userspaceAddr).putLong(mmapOffset);
    }

    /** Decodes a payload of exactly {@link #SIZE} bytes. */
    public static VhostUserMemoryRegion decode(ByteBuffer buf) {
        VhostUserPayload.requireSize("memory region", buf, SIZE);
        return read(buf);
    }

    /** Reads {@link #SIZE} bytes at the buffer's position (inside a table or single-region payload). */
    static VhostUserMemoryRegion read(ByteBuffer buf) {
        try {
            return new VhostUserMemoryRegion(buf.getLong(), buf.getLong(), buf.getLong(), buf.getLong());
        } catch (IllegalArgumentException e) {
            throw VhostUserException.protocolError(e.getMessage());
        }
    }

    private static String describe(long gpa, long size, long uva, long off) {
        return "{gpa=0x" + Long.toHexString(gpa) + ", size=0x" + Long.toHexString(size) + ", uva=0x" + Long.toHexString(uva)
                + ", mmap_offset=0x" + Long.toHexString(off) + "}";
    }

    @Override
    public String toString() {
        return "region" + describe(guestPhysAddr, memorySize, userspaceAddr, mmapOffset);
    }
}
