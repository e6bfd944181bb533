package io.jvirtio.sys.vfio;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** {@code struct vfio_iommu_type1_dma_map}: {@code argsz, flags, u64 vaddr, u64 iova, u64 size}. */
public final class VfioDmaMap {
    public static final int SIZE = 32;
    public static final int ARGSZ_OFFSET = 0;
    public static final int FLAGS_OFFSET = 4;
    public static final int VADDR_OFFSET = 8;
    public static final int IOVA_OFFSET = 16;
    public static final int SIZE_OFFSET = 24;
    /** {@code VFIO_DMA_MAP_FLAG_READ}: the device may read. */
    public static final int FLAG_READ = 0x1;
    /** {@code VFIO_DMA_MAP_FLAG_WRITE}: the device may write. */
    public static final int FLAG_WRITE = 0x2;
    /** {@code VFIO_DMA_MAP_FLAG_VADDR}: update the vaddr of an existing mapping. */
    public static final int FLAG_VADDR = 0x4;

    private VfioDmaMap() {
    }

    /** Fills a request for {@code [iova, iova + size)} backed by {@code vaddr}. */
    public static void prepare(MemorySegment buf, int flags, long vaddr, long iova, long size) {
        buf.set(JAVA_INT, ARGSZ_OFFSET, SIZE);
        buf.set(JAVA_INT, FLAGS_OFFSET, flags);
        buf.set(JAVA_LONG, VADDR_OFFSET, vaddr);
        buf.set(JAVA_LONG, IOVA_OFFSET, iova);
        buf.set(JAVA_LONG, SIZE_OFFSET, size);
    }
}
