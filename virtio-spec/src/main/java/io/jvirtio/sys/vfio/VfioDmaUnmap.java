package io.jvirtio.sys.vfio;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * {@code struct vfio_iommu_type1_dma_unmap}: {@code argsz, flags, u64 iova, u64 size, u8 data[]}.
 * The kernel writes back in {@code size} how many bytes it unmapped.
 */
public final class VfioDmaUnmap {
    public static final int SIZE = 24;
    public static final int ARGSZ_OFFSET = 0;
    public static final int FLAGS_OFFSET = 4;
    public static final int IOVA_OFFSET = 8;
    public static final int SIZE_OFFSET = 16;
    public static final int DATA_OFFSET = 24;
    /** {@code VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP}. */
    public static final int FLAG_GET_DIRTY_BITMAP = 0x1;
    /** {@code VFIO_DMA_UNMAP_FLAG_ALL}: unmap everything (iova and size 0); needs {@link VfioIoctl#VFIO_UNMAP_ALL}. */
    public static final int FLAG_ALL = 0x2;
    /** {@code VFIO_DMA_UNMAP_FLAG_VADDR}. */
    public static final int FLAG_VADDR = 0x4;

    private VfioDmaUnmap() {
    }

    /** Fills a request for {@code [iova, iova + size)}. */
    public static void prepare(MemorySegment buf, int flags, long iova, long size) {
        buf.set(JAVA_INT, ARGSZ_OFFSET, SIZE);
        buf.set(JAVA_INT, FLAGS_OFFSET, flags);
        buf.set(JAVA_LONG, IOVA_OFFSET, iova);
        buf.set(JAVA_LONG, SIZE_OFFSET, size);
    }

    /** @return the bytes the kernel reports unmapped */
    public static long unmappedSize(MemorySegment buf) {
        return buf.get(JAVA_LONG, SIZE_OFFSET);
    }
}
