package io.jvirtio.sys.vfio;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * {@code struct vfio_iommu_type1_info}: {@code argsz, flags, u64 iova_pgsizes, cap_offset, pad},
 * and its capabilities: IOVA ranges, migration, DMA mappings left.
 *
 * @param flags     {@code VFIO_IOMMU_INFO_*}
 * @param pageSizes {@code iova_pgsizes}: a bitmap of supported IOMMU page sizes
 * @param ranges    the usable IOVA ranges (empty when the kernel reports none: no restriction known)
 * @param dmaAvail  how many more {@code MAP_DMA} the container accepts, when reported
 */
public record VfioIommuType1Info(int flags, long pageSizes, List<IovaRange> ranges, OptionalInt dmaAvail) {
    public static final int SIZE = 24;
    public static final int ARGSZ_OFFSET = 0;
    public static final int FLAGS_OFFSET = 4;
    public static final int IOVA_PGSIZES_OFFSET = 8;
    public static final int CAP_OFFSET_OFFSET = 16;
    /** {@code VFIO_IOMMU_INFO_PGSIZES}: {@code iova_pgsizes} is valid. */
    public static final int INFO_PGSIZES = 0x1;
    /** {@code VFIO_IOMMU_INFO_CAPS}: {@code cap_offset} is valid. */
    public static final int INFO_CAPS = 0x2;

    /** {@code VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE}. */
    public static final int CAP_IOVA_RANGE = 1;
    /** {@code VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION}. */
    public static final int CAP_MIGRATION = 2;
    /** {@code VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL}. */
    public static final int CAP_DMA_AVAIL = 3;
    /** {@code struct vfio_iommu_type1_info_cap_iova_range}: header, {@code u32 nr_iovas}, reserved, ranges[]. */
    public static final int IOVA_NR_IOVAS_OFFSET = 8;
    public static final int IOVA_RANGES_OFFSET = 16;
    /** {@code sizeof(struct vfio_iova_range)}: {@code u64 start, u64 end} (end inclusive). */
    public static final int IOVA_RANGE_SIZE = 16;
    public static final int RANGE_START_OFFSET = 0;
    public static final int RANGE_END_OFFSET = 8;
    /** {@code struct vfio_iommu_type1_info_dma_avail}: header, {@code u32 avail}; 12 bytes. */
    public static final int DMA_AVAIL_AVAIL_OFFSET = 8;
    public static final int DMA_AVAIL_SIZE = 12;

    /**
     * An IOVA range the IOMMU can translate.
     *
     * @param start first address
     * @param end   last address (inclusive, as the kernel reports it)
     */
    public record IovaRange(long start, long end) {
        /** @return whether {@code [address, address + length)} lies wholly inside (unsigned) */
        public boolean contains(long address, long length) {
            long last = address + length - 1;
            return length > 0 && Long.compareUnsigned(last, address) >= 0
                    && Long.compareUnsigned(address, start) >= 0 && Long.compareUnsigned(last, end) <= 0;
        }

        @Override
        public String toString() {
            return "0x" + Long.toHexString(start) + "-0x" + Long.toHexString(end);
        }
    }

    /** Fills a request of {@code argsz} bytes. */
    public static void prepare(MemorySegment buf, int argsz) {
        buf.asSlice(0, argsz).fill((byte) 0);
        buf.set(JAVA_INT, ARGSZ_OFFSET, argsz);
    }

    /** @return the {@code argsz} the kernel asks for */
    public static int argszNeeded(MemorySegment buf) {
        return buf.get(JAVA_INT, ARGSZ_OFFSET);
    }

    /**
     * Decodes an answer, capabilities included.
     *
     * @param filled how many bytes were passed as {@code argsz}
     * @throws io.jvirtio.spec.VirtioException on a malformed capability chain
     */
    public static VfioIommuType1Info decode(MemorySegment buf, long filled) {
        String what = "VFIO_IOMMU_GET_INFO";
        int flags = buf.get(JAVA_INT, FLAGS_OFFSET);
        List<IovaRange> ranges = List.of();
        OptionalInt avail = OptionalInt.empty();
        if ((flags & INFO_CAPS) != 0 && buf.get(JAVA_INT, ARGSZ_OFFSET) <= filled) {
            for (VfioInfoCaps.Cap cap : VfioInfoCaps.walk(what, buf, filled, buf.get(JAVA_INT, CAP_OFFSET_OFFSET), SIZE)) {
                switch (cap.id()) {
                    case CAP_IOVA_RANGE -> ranges = ranges(what, buf, filled, cap);
                    case CAP_DMA_AVAIL -> {
                        VfioInfoCaps.requireLength(what, cap, DMA_AVAIL_SIZE, filled);
                        avail = OptionalInt.of(buf.get(JAVA_INT_UNALIGNED, cap.offset() + DMA_AVAIL_AVAIL_OFFSET));
                    }
                    default -> { } // migration and newer ones: not needed
                }
            }
        }
        long pageSizes = (flags & INFO_PGSIZES) != 0 ? buf.get(JAVA_LONG, IOVA_PGSIZES_OFFSET) : 0;
        return new VfioIommuType1Info(flags, pageSizes, ranges, avail);
    }

    private static List<IovaRange> ranges(String what, MemorySegment buf, long filled, VfioInfoCaps.Cap cap) {
        VfioInfoCaps.requireLength(what, cap, IOVA_RANGES_OFFSET, filled);
        long n = Integer.toUnsignedLong(buf.get(JAVA_INT_UNALIGNED, cap.offset() + IOVA_NR_IOVAS_OFFSET));
        VfioInfoCaps.requireLength(what, cap, IOVA_RANGES_OFFSET + n * IOVA_RANGE_SIZE, filled);
        List<IovaRange> ranges = new ArrayList<>();
        for (long i = 0; i < n; i++) {
            long at = cap.offset() + IOVA_RANGES_OFFSET + i * IOVA_RANGE_SIZE;
            ranges.add(new IovaRange(buf.get(JAVA_LONG_UNALIGNED, at + RANGE_START_OFFSET), buf.get(JAVA_LONG_UNALIGNED, at + RANGE_END_OFFSET)));
        }
        return List.copyOf(ranges);
    }

    /** @return whether {@code [address, address + length)} lies wholly inside one range (or no ranges are known) */
    public boolean iovaUsable(long address, long length) {
        if (ranges.isEmpty()) {
            return true;
        }
        for (IovaRange r : ranges) {
            if (r.contains(address, length)) {
                return true;
            }
        }
        return false;
    }
}
