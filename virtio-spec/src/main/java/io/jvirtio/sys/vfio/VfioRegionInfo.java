package io.jvirtio.sys.vfio;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * {@code struct vfio_region_info}: {@code argsz, flags, index, cap_offset, u64 size, u64 offset},
 * and its capabilities (sparse mmap, type, MSI-X mappable).
 *
 * @param index        the region index ({@link VfioPciIndex})
 * @param flags        {@code VFIO_REGION_INFO_FLAG_*}
 * @param size         the region's size (0: absent)
 * @param offset       where the region starts in the device fd (for pread/pwrite/mmap)
 * @param sparseMmap   with {@code VFIO_REGION_INFO_CAP_SPARSE_MMAP}: the only areas that may be
 *                     mmapped (offsets within the region)
 * @param msixMappable {@code VFIO_REGION_INFO_CAP_MSIX_MAPPABLE}: the MSI-X table BAR may be mmapped whole
 */
public record VfioRegionInfo(int index, int flags, long size, long offset, Optional<List<Area>> sparseMmap, boolean msixMappable) {
    public static final int SIZE = 32;
    public static final int ARGSZ_OFFSET = 0;
    public static final int FLAGS_OFFSET = 4;
    public static final int INDEX_OFFSET = 8;
    public static final int CAP_OFFSET_OFFSET = 12;
    public static final int SIZE_OFFSET = 16;
    public static final int OFFSET_OFFSET = 24;
    /** {@code VFIO_REGION_INFO_FLAG_READ}. */
    public static final int FLAG_READ = 0x1;
    /** {@code VFIO_REGION_INFO_FLAG_WRITE}. */
    public static final int FLAG_WRITE = 0x2;
    /** {@code VFIO_REGION_INFO_FLAG_MMAP}: the region (or its sparse areas) may be mmapped. */
    public static final int FLAG_MMAP = 0x4;
    /** {@code VFIO_REGION_INFO_FLAG_CAPS}: {@code cap_offset} is valid. */
    public static final int FLAG_CAPS = 0x8;

    /** {@code VFIO_REGION_INFO_CAP_SPARSE_MMAP}. */
    public static final int CAP_SPARSE_MMAP = 1;
    /** {@code VFIO_REGION_INFO_CAP_TYPE}. */
    public static final int CAP_TYPE = 2;
    /** {@code VFIO_REGION_INFO_CAP_MSIX_MAPPABLE}. */
    public static final int CAP_MSIX_MAPPABLE = 3;
    /** {@code struct vfio_region_info_cap_sparse_mmap}: header, {@code u32 nr_areas}, reserved, areas[]. */
    public static final int SPARSE_NR_AREAS_OFFSET = 8;
    public static final int SPARSE_AREAS_OFFSET = 16;
    /** {@code sizeof(struct vfio_region_sparse_mmap_area)}: {@code u64 offset, u64 size}. */
    public static final int SPARSE_AREA_SIZE = 16;
    public static final int AREA_OFFSET_OFFSET = 0;
    public static final int AREA_SIZE_OFFSET = 8;

    /**
     * One mmappable area of a region.
     *
     * @param offset from the start of the region
     * @param size   bytes
     */
    public record Area(long offset, long size) {
    }

    /** Fills a request of {@code argsz} bytes for region {@code index}. */
    public static void prepare(MemorySegment buf, int argsz, int index) {
        buf.asSlice(0, argsz).fill((byte) 0);
        buf.set(JAVA_INT, ARGSZ_OFFSET, argsz);
        buf.set(JAVA_INT, INDEX_OFFSET, index);
    }

    /** @return the {@code argsz} the kernel asks for (larger than what was passed when capabilities did not fit) */
    public static int argszNeeded(MemorySegment buf) {
        return buf.get(JAVA_INT, ARGSZ_OFFSET);
    }

    /**
     * Decodes an answer, capabilities included.
     *
     * @param filled how many bytes were passed as {@code argsz}
     * @throws io.jvirtio.spec.VirtioException on a malformed capability chain
     */
    public static VfioRegionInfo decode(MemorySegment buf, long filled) {
        int index = buf.get(JAVA_INT, INDEX_OFFSET);
        int flags = buf.get(JAVA_INT, FLAGS_OFFSET);
        String what = "VFIO_DEVICE_GET_REGION_INFO(" + index + ")";
        Optional<List<Area>> sparse = Optional.empty();
        boolean msix = false;
        if ((flags & FLAG_CAPS) != 0 && buf.get(JAVA_INT, ARGSZ_OFFSET) <= filled) {
            for (VfioInfoCaps.Cap cap : VfioInfoCaps.walk(what, buf, filled, buf.get(JAVA_INT, CAP_OFFSET_OFFSET), SIZE)) {
                switch (cap.id()) {
                    case CAP_SPARSE_MMAP -> sparse = Optional.of(areas(what, buf, filled, cap));
                    case CAP_MSIX_MAPPABLE -> msix = true;
                    default -> { } // CAP_TYPE and newer ones: not needed for a PCI BAR
                }
            }
        }
        return new VfioRegionInfo(index, flags, buf.get(JAVA_LONG, SIZE_OFFSET), buf.get(JAVA_LONG, OFFSET_OFFSET), sparse, msix);
    }

    private static List<Area> areas(String what, MemorySegment buf, long filled, VfioInfoCaps.Cap cap) {
        VfioInfoCaps.requireLength(what, cap, SPARSE_AREAS_OFFSET, filled);
        long n = Integer.toUnsignedLong(buf.get(JAVA_INT_UNALIGNED, cap.offset() + SPARSE_NR_AREAS_OFFSET));
        VfioInfoCaps.requireLength(what, cap, SPARSE_AREAS_OFFSET + n * SPARSE_AREA_SIZE, filled);
        List<Area> areas = new ArrayList<>();
        for (long i = 0; i < n; i++) {
            long at = cap.offset() + SPARSE_AREAS_OFFSET + i * SPARSE_AREA_SIZE;
            areas.add(new Area(buf.get(JAVA_LONG_UNALIGNED, at + AREA_OFFSET_OFFSET), buf.get(JAVA_LONG_UNALIGNED, at + AREA_SIZE_OFFSET)));
        }
        return List.copyOf(areas);
    }

    /** @return whether the region may be mmapped */
    public boolean mappable() {
        return (flags & FLAG_MMAP) != 0;
    }
}
