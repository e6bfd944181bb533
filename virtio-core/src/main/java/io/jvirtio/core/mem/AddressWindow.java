package io.jvirtio.core.mem;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import static io.jvirtio.sys.LinuxConstants.HUGE_PAGE_2M;

/**
 * The virtual addresses a {@link MemoryDomain}'s regions must lie in: inclusive
 * {@code [start, end]} ranges, e.g. the IOVA ranges a VFIO IOMMU translates (a 39-bit VT-d ends at
 * {@code 0x7fffffffff}). Because the device address of a buffer is its virtual address, putting
 * the mapping inside the window is what makes it reachable; rings and drivers do not change.
 *
 * <p>{@link #ANY} (no ranges) restricts nothing: the kernel's choice of address is kept.
 * Comparisons are unsigned, as the kernel reports IOVAs.
 */
public final class AddressWindow {
    /** The window of a domain without restriction. */
    public static final AddressWindow ANY = new AddressWindow(List.of());

    /**
     * Regions are placed above 4 GiB when the window allows: the low 4 GiB are where the JVM puts
     * a compressed-oops heap and where 32-bit-only devices and the MSI window live.
     */
    static final long LOW_4G = 1L << 32;
    /**
     * The highest address placement uses: without a hint above it, Linux keeps user mappings
     * below 2^47 even with 5-level paging, so higher slots would only fail.
     */
    static final long PLACEMENT_TOP = (1L << 47) - 1;

    private final List<Range> ranges;

    /**
     * An inclusive range of addresses.
     *
     * @param start first address
     * @param end   last address (inclusive), unsigned &ge; {@code start}
     */
    public record Range(long start, long end) {
        public Range {
            if (Long.compareUnsigned(end, start) < 0) {
                throw new IllegalArgumentException("address range end 0x" + Long.toHexString(end) + " below start 0x" + Long.toHexString(start));
            }
        }

        /** @return whether {@code [address, address + length)} lies wholly inside, {@code length > 0} */
        public boolean contains(long address, long length) {
            long last = address + length - 1;
            return length > 0 && Long.compareUnsigned(last, address) >= 0
                    && Long.compareUnsigned(address, start) >= 0 && Long.compareUnsigned(last, end) <= 0;
        }

        /** @return the number of addresses, saturated at {@code Long.MAX_VALUE} */
        long size() {
            long n = end - start + 1;
            return n <= 0 ? Long.MAX_VALUE : n;
        }

        @Override
        public String toString() {
            return "0x" + Long.toHexString(start) + "-0x" + Long.toHexString(end);
        }
    }

    private AddressWindow(List<Range> ranges) {
        this.ranges = List.copyOf(ranges);
    }

    /**
     * @param ranges inclusive ranges; empty means {@link #ANY}
     * @return the window
     */
    public static AddressWindow of(List<Range> ranges) {
        return ranges.isEmpty() ? ANY : new AddressWindow(ranges);
    }

    /** @return the window {@code [start, end]} */
    public static AddressWindow of(long start, long end) {
        return of(List.of(new Range(start, end)));
    }

    /** @return the ranges; empty for {@link #ANY} */
    public List<Range> ranges() {
        return ranges;
    }

    /** @return whether the window restricts nothing */
    public boolean unrestricted() {
        return ranges.isEmpty();
    }

    /** @return whether {@code [address, address + length)} lies wholly inside one range (always, for {@link #ANY}) */
    public boolean contains(long address, long length) {
        if (ranges.isEmpty()) {
            return true;
        }
        for (Range r : ranges) {
            if (r.contains(address, length)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The ranges placement walks, in order: the parts above 4 GiB and below {@link #PLACEMENT_TOP}
     * that can hold {@code length} at a 2 MiB-aligned address, largest first; only when there is
     * none, the parts below 4 GiB likewise.
     */
    List<Range> placementRanges(long length) {
        List<Range> high = new ArrayList<>();
        List<Range> low = new ArrayList<>();
        for (Range r : ranges) {
            long start = r.start;
            long end = Long.compareUnsigned(r.end, PLACEMENT_TOP) > 0 ? PLACEMENT_TOP : r.end;
            if (Long.compareUnsigned(start, end) > 0) {
                continue;
            }
            if (Long.compareUnsigned(end, LOW_4G) >= 0 && Long.compareUnsigned(start, LOW_4G) < 0) {
                addIfFits(low, start, LOW_4G - 1, length);
                addIfFits(high, LOW_4G, end, length);
            } else {
                addIfFits(Long.compareUnsigned(start, LOW_4G) >= 0 ? high : low, start, end, length);
            }
        }
        List<Range> chosen = high.isEmpty() ? low : high;
        chosen.sort(Comparator.comparingLong(Range::size).reversed());
        return chosen;
    }

    private static void addIfFits(List<Range> out, long start, long end, long length) {
        if (highestSlot(start, end, length) >= 0) {
            out.add(new Range(start, end));
        }
    }

    /**
     * @return the highest 2 MiB-aligned address {@code a} with {@code [a, a + length)} inside
     *         {@code [start, end]}, or -1 when there is none (addresses below 2^63 here)
     */
    static long highestSlot(long start, long end, long length) {
        long a = (end - length + 1) & -HUGE_PAGE_2M;
        long alignedStart = (start + HUGE_PAGE_2M - 1) & -HUGE_PAGE_2M;
        if (end - start + 1 < length || end - length + 1 < 0 || a < alignedStart || alignedStart < start) {
            return -1;
        }
        return a;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AddressWindow w && w.ranges.equals(ranges);
    }

    @Override
    public int hashCode() {
        return ranges.hashCode();
    }

    @Override
    public String toString() {
        return ranges.isEmpty() ? "any address" : ranges.toString();
    }
}
