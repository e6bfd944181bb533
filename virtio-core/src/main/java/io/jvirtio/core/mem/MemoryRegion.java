package io.jvirtio.core.mem;

import java.lang.foreign.MemorySegment;

/**
 * One fd-backed shared mapping of a {@link MemoryDomain}: what a vhost-user back-end maps
 * (SET_MEM_TABLE / ADD_MEM_REG entry) and what VFIO maps for DMA. The device address of a byte in
 * the region is its process virtual address (vhost-user GPA = userspace_addr = vaddr, as SPDK does).
 *
 * @param name      the memfd's name, for logs
 * @param fd        the backing memfd; owned by the domain
 * @param address   the 2 MiB-aligned virtual address of the mapping
 * @param length    the mapping length, a multiple of 2 MiB
 * @param fdOffset  the offset of the mapping in the fd (the vhost-user {@code mmap_offset})
 * @param hugePages whether the memfd is hugetlb-backed (2 MiB pages)
 * @param segment   the mapping as a segment
 */
public record MemoryRegion(String name, int fd, long address, long length, long fdOffset, boolean hugePages,
                           MemorySegment segment) {

    /** @return whether {@code [addr, addr+len)} lies wholly inside this region */
    public boolean contains(long addr, long len) {
        return len >= 0 && addr >= address && addr - address <= length - len;
    }

    @Override
    public String toString() {
        return name + "[fd=" + fd + ", vaddr=0x" + Long.toHexString(address) + ", length=" + length
                + (hugePages ? ", 2MiB pages" : ", 4KiB pages") + "]";
    }
}
