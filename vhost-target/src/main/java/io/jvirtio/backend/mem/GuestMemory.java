package io.jvirtio.backend.mem;

import io.jvirtio.spec.vhostuser.VhostUserMemoryRegion;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The front-end's memory table as this process maps it: an immutable snapshot of
 * {@link MappedRegion}s that translates guest addresses (descriptor buffers) and front-end user
 * addresses (ring addresses of SET_VRING_ADDR) into bounds-checked segments. Nothing outside a
 * region is ever returned: an address range that is not covered translates to null, and the
 * caller reports the driver's or front-end's error.
 *
 * <p>Regions overlap neither in guest nor in user addresses ({@link #with} refuses).
 */
public final class GuestMemory {
    /** The table before SET_MEM_TABLE. */
    public static final GuestMemory EMPTY = new GuestMemory(List.of());

    private final MappedRegion[] regions;

    private GuestMemory(List<MappedRegion> regions) {
        List<MappedRegion> sorted = new ArrayList<>(regions);
        sorted.sort(Comparator.comparing(MappedRegion::gpa, Long::compareUnsigned));
        this.regions = sorted.toArray(new MappedRegion[0]);
    }

    /** @return the regions, sorted by guest address */
    public List<MappedRegion> regions() {
        return List.of(regions);
    }

    /** @return the number of regions */
    public int size() {
        return regions.length;
    }

    /**
     * @return this table plus {@code r}
     * @throws IllegalArgumentException naming both regions when {@code r} overlaps one of this table
     */
    public GuestMemory with(MappedRegion r) {
        checkNoOverlap(r.gpa(), r.uva(), r.size(), null);
        List<MappedRegion> list = new ArrayList<>(List.of(regions));
        list.add(r);
        return new GuestMemory(list);
    }

    /** @return this table without {@code r} */
    public GuestMemory without(MappedRegion r) {
        List<MappedRegion> list = new ArrayList<>(List.of(regions));
        list.remove(r);
        return new GuestMemory(list);
    }

    /** @return the mapped region with the guest and user ranges of {@code r}, or null */
    public MappedRegion find(VhostUserMemoryRegion r) {
        for (MappedRegion m : regions) {
            if (m.sameRange(r)) {
                return m;
            }
        }
        return null;
    }

    /**
     * Checks a region against this table before it is mapped.
     *
     * @throws IllegalArgumentException naming the region it overlaps
     */
    public void checkNoOverlap(long gpa, long uva, long size, String what) {
        for (MappedRegion m : regions) {
            if (overlaps(gpa, size, m.gpa(), m.size())) {
                throw new IllegalArgumentException((what == null ? "" : what + ": ") + "guest range [0x" + Long.toHexString(gpa) + ", +0x"
                        + Long.toHexString(size) + ") overlaps " + m);
            }
            if (overlaps(uva, size, m.uva(), m.size())) {
                throw new IllegalArgumentException((what == null ? "" : what + ": ") + "user range [0x" + Long.toHexString(uva) + ", +0x"
                        + Long.toHexString(size) + ") overlaps " + m);
            }
        }
    }

    /** @return whether two non-wrapping ranges overlap (unsigned) */
    public static boolean overlaps(long a, long aLen, long b, long bLen) {
        return Long.compareUnsigned(a, b + bLen) < 0 && Long.compareUnsigned(b, a + aLen) < 0;
    }

    /**
     * Translates a guest-address range that must lie inside one region (rings, indirect tables).
     *
     * @return the bytes, or null when the range is not entirely inside one region
     */
    public MemorySegment gpa(long addr, long len) {
        for (MappedRegion m : regions) {
            if (m.gpaStartsHere(addr)) {
                long off = addr - m.gpa();
                return Long.compareUnsigned(len, m.size() - off) <= 0 ? m.segment().asSlice(off, len) : null;
            }
        }
        return null;
    }

    /** Receives the pieces of a buffer that spans adjacent regions. */
    @FunctionalInterface
    public interface PieceSink {
        /** @param piece one mapped piece of the buffer, in address order */
        void accept(MemorySegment piece);
    }

    /** Receives the pieces of a buffer as ranges of the regions' segments: nothing is allocated per piece. */
    @FunctionalInterface
    public interface RangeSink {
        /**
         * @param region the whole mapped region's segment
         * @param offset where the piece starts in it
         * @param length the piece's length
         */
        void accept(MemorySegment region, long offset, long length);
    }

    /**
     * {@link #gpaPieces} without a slice per piece (the queue threads' hot path): each piece goes to
     * {@code sink} as a range of its region's segment.
     *
     * @return false (having handed over nothing) when some byte is not covered
     */
    public boolean gpaRanges(long addr, long len, RangeSink sink) {
        if (len > 0 && Long.compareUnsigned(addr + len, addr) < 0) {
            return false;
        }
        long a = addr;
        long left = len;
        while (left > 0) {
            MappedRegion m = regionAt(a);
            if (m == null) {
                return false;
            }
            long n = Math.min(left, m.size() - (a - m.gpa()));
            a += n;
            left -= n;
        }
        a = addr;
        left = len;
        while (left > 0) {
            MappedRegion m = regionAt(a);
            long off = a - m.gpa();
            long n = Math.min(left, m.size() - off);
            sink.accept(m.segment(), off, n);
            a += n;
            left -= n;
        }
        return true;
    }

    /**
     * Translates a guest-address buffer that may span adjacent regions (libvhost-user's
     * {@code virtqueue_map_desc}), handing each piece to {@code sink}.
     *
     * @return false (having handed over nothing of the missing part) when some byte is not covered
     */
    public boolean gpaPieces(long addr, long len, PieceSink sink) {
        if (len > 0 && Long.compareUnsigned(addr + len, addr) < 0) {
            return false;
        }
        // check coverage before handing anything out, so the caller sees all or nothing
        long a = addr;
        long left = len;
        while (left > 0) {
            MappedRegion m = regionAt(a);
            if (m == null) {
                return false;
            }
            long n = Math.min(left, m.size() - (a - m.gpa()));
            a += n;
            left -= n;
        }
        a = addr;
        left = len;
        while (left > 0) {
            MappedRegion m = regionAt(a);
            long off = a - m.gpa();
            long n = Math.min(left, m.size() - off);
            sink.accept(m.segment().asSlice(off, n));
            a += n;
            left -= n;
        }
        return true;
    }

    private MappedRegion regionAt(long addr) {
        for (MappedRegion m : regions) {
            if (m.gpaStartsHere(addr)) {
                return m;
            }
        }
        return null;
    }

    /**
     * Translates a front-end user-address range (SET_VRING_ADDR) that must lie inside one region.
     *
     * @return the bytes, or null when not covered
     */
    public MemorySegment uva(long addr, long len) {
        for (MappedRegion m : regions) {
            if (m.uvaStartsHere(addr)) {
                long off = addr - m.uva();
                return Long.compareUnsigned(len, m.size() - off) <= 0 ? m.segment().asSlice(off, len) : null;
            }
        }
        return null;
    }

    /** @return a table of exactly these regions; @throws IllegalArgumentException when two overlap */
    public static GuestMemory of(List<MappedRegion> list) {
        GuestMemory g = EMPTY;
        for (MappedRegion r : list) {
            g = g.with(r);
        }
        return g;
    }

    @Override
    public String toString() {
        return "GuestMemory" + List.of(regions);
    }
}
