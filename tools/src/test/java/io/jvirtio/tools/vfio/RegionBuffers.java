package io.jvirtio.tools.vfio;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.core.mem.MemoryRegion;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * I/O buffers of a bdev that must lie inside one region of its memory domain: an allocation the
 * allocator places in a hole of an earlier region is kept as a filler (freed by the caller) and
 * tried again, so every buffer handed out is inside {@code region}, checked. Guest side.
 */
final class RegionBuffers implements PlanExecutor.Buffers {
    /** Holes an earlier region may still have for small buffers; more means the allocator misbehaves. */
    private static final int MAX_RETRIES = 4096;

    private final Bdev bdev;
    private final MemoryRegion region;
    private final List<MemorySegment> fillers;
    private int allocated;

    /** @param fillers where allocations outside {@code region} go; the caller frees them */
    RegionBuffers(Bdev bdev, MemoryRegion region, List<MemorySegment> fillers) {
        this.bdev = bdev;
        this.region = region;
        this.fillers = fillers;
    }

    @Override
    public MemorySegment allocate(long size, long alignment) {
        for (int i = 0; i < MAX_RETRIES; i++) {
            MemorySegment s = bdev.allocateBuffer(size, alignment);
            if (region.contains(s.address(), s.byteSize())) {
                allocated++;
                return s;
            }
            fillers.add(s);
        }
        throw new GuestCheckException(bdev.name() + ": " + MAX_RETRIES + " buffers of " + size + " bytes landed outside " + region);
    }

    @Override
    public void free(MemorySegment buffer) {
        GuestCheckException.check(region.contains(buffer.address(), buffer.byteSize()), "buffer at 0x" + Long.toHexString(buffer.address())
                + " is outside " + region);
        bdev.freeBuffer(buffer);
    }

    /** @return how many buffers were handed out, each inside the region */
    int allocated() {
        return allocated;
    }
}
