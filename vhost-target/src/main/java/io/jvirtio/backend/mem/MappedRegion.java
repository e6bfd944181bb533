package io.jvirtio.backend.mem;

import io.jvirtio.sys.LinuxConstants;
import io.jvirtio.sys.Native;
import io.jvirtio.spec.vhostuser.VhostUserMemoryRegion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One region of the front-end's memory, mapped into this process: the guest-address range
 * {@code [gpa, gpa+size)} and the front-end user-address range {@code [uva, uva+size)} both land on
 * {@link #segment()}.
 *
 * <p>The fd is mapped from offset 0 for {@code mmap_offset + size} bytes, rounded up to 2 MiB, as
 * libvhost-user does: a hugetlbfs fd can only be mapped at a huge-page-aligned file offset, and
 * {@code mmap_offset} need not be one. A region that does not fit in its file is refused, so bytes
 * past the end of the file are never touched.
 */
public final class MappedRegion {
    private static final Logger LOG = LoggerFactory.getLogger(MappedRegion.class);

    private final long gpa;
    private final long size;
    private final long uva;
    private final long mmapOffset;
    private final long mapBase;
    private final long mapLength;
    private final MemorySegment segment;
    private final AtomicBoolean unmapped = new AtomicBoolean();

    private MappedRegion(VhostUserMemoryRegion r, long mapBase, long mapLength) {
        this.gpa = r.guestPhysAddr();
        this.size = r.memorySize();
        this.uva = r.userspaceAddr();
        this.mmapOffset = r.mmapOffset();
        this.mapBase = mapBase;
        this.mapLength = mapLength;
        this.segment = Native.segmentAt(mapBase + mmapOffset, size);
    }

    /**
     * Maps a region the front-end described, from the fd that came with the message. The fd stays
     * owned by the caller (the mapping keeps the file alive on its own).
     *
     * @throws io.jvirtio.sys.NativeException naming mmap and errno when the fd cannot be mapped
     * @throws IllegalArgumentException when offset plus size does not fit in a mapping or goes past
     *                                  the end of the fd's file
     */
    public static MappedRegion map(VhostUserMemoryRegion r, int fd) {
        long end = r.mmapOffset() + r.memorySize();
        if (r.mmapOffset() < 0 || r.memorySize() <= 0 || end <= 0) {
            throw new IllegalArgumentException(r + ": mmap_offset plus size 0x" + Long.toHexString(r.mmapOffset())
                    + " + 0x" + Long.toHexString(r.memorySize()) + " is not a mappable length");
        }
        if (Long.compareUnsigned(r.guestPhysAddr() + r.memorySize(), r.guestPhysAddr()) < 0
                || Long.compareUnsigned(r.userspaceAddr() + r.memorySize(), r.userspaceAddr()) < 0) {
            // the overlap and lookup checks assume ranges that do not wrap past 2^64
            throw new IllegalArgumentException(r + ": guest_phys_addr or userspace_addr plus size 0x" + Long.toHexString(r.memorySize())
                    + " wraps past 2^64");
        }
        FileSize.requireCovers(fd, end, r + ": mmap_offset plus size");
        long length = (end + LinuxConstants.HUGE_PAGE_2M - 1) & -LinuxConstants.HUGE_PAGE_2M;
        long base = Native.mmap(0, length, LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE,
                LinuxConstants.MAP_SHARED | LinuxConstants.MAP_NORESERVE, fd, 0);
        MappedRegion m = new MappedRegion(r, base, length);
        LOG.debug("mapped {} at 0x{}", r, Long.toHexString(base));
        return m;
    }

    /** @return the guest (device) address of the first byte */
    public long gpa() {
        return gpa;
    }

    /** @return the front-end's user address of the first byte */
    public long uva() {
        return uva;
    }

    /** @return the region's size */
    public long size() {
        return size;
    }

    /** @return the mmap offset the front-end gave */
    public long mmapOffset() {
        return mmapOffset;
    }

    /** @return the region's bytes, as this process sees them */
    public MemorySegment segment() {
        return segment;
    }

    /** @return whether {@code [addr, addr+len)} of guest addresses starts in this region */
    boolean gpaStartsHere(long addr) {
        return Long.compareUnsigned(addr, gpa) >= 0 && Long.compareUnsigned(addr - gpa, size) < 0;
    }

    /** @return whether the user address starts in this region */
    boolean uvaStartsHere(long addr) {
        return Long.compareUnsigned(addr, uva) >= 0 && Long.compareUnsigned(addr - uva, size) < 0;
    }

    /** @return whether this region describes the same guest and user ranges (REM_MEM_REG matching) */
    public boolean sameRange(VhostUserMemoryRegion r) {
        return r.guestPhysAddr() == gpa && r.userspaceAddr() == uva && r.memorySize() == size;
    }

    /** Unmaps the region. Idempotent; nothing may touch {@link #segment()} afterwards. */
    public void unmap() {
        if (unmapped.compareAndSet(false, true)) {
            try {
                Native.munmap(mapBase, mapLength);
            } catch (RuntimeException e) {
                LOG.warn("unmapping {}: {}", this, e.getMessage());
            }
        }
    }

    @Override
    public String toString() {
        return "region{gpa=0x" + Long.toHexString(gpa) + ", size=0x" + Long.toHexString(size) + ", uva=0x" + Long.toHexString(uva)
                + ", mmap_offset=0x" + Long.toHexString(mmapOffset) + "}";
    }
}
