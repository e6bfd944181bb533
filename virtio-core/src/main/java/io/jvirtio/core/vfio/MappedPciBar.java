package io.jvirtio.core.vfio;

import io.jvirtio.core.pci.PciBar;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * A BAR mmapped from the device fd: each access is one volatile load or store of exactly its
 * width (the JIT neither merges nor elides volatile accesses; the mapping is uncached, so the
 * device sees each one, in program order).
 *
 * <p>With a sparse-mmap capability only some areas are mapped; an access elsewhere goes through
 * {@code pread}/{@code pwrite} (for the MSI-X table, which jvirtio never touches, that is what the
 * kernel wants). The segments belong to the function's arena: after close an access throws
 * {@link IllegalStateException} instead of faulting.
 */
final class MappedPciBar implements PciBar {
    private static final VarHandle MMIO8 = ValueLayout.JAVA_BYTE.varHandle();
    private static final VarHandle MMIO16 = DeviceFd.LE16.varHandle();
    private static final VarHandle MMIO32 = DeviceFd.LE32.varHandle();

    private final int index;
    private final long size;
    /** mapped areas: [start, end) offsets within the BAR and their segments */
    private final long[] areaStart;
    private final long[] areaEnd;
    private final MemorySegment[] areas;
    private final FilePciBar outsideAreas;

    MappedPciBar(int index, long size, long[] areaStart, MemorySegment[] areas, FilePciBar outsideAreas) {
        this.index = index;
        this.size = size;
        this.areaStart = areaStart.clone();
        this.areas = areas.clone();
        this.areaEnd = new long[areas.length];
        for (int i = 0; i < areas.length; i++) {
            areaEnd[i] = areaStart[i] + areas[i].byteSize();
        }
        this.outsideAreas = outsideAreas;
    }

    @Override
    public int index() {
        return index;
    }

    @Override
    public long size() {
        return size;
    }

    /** @return the area holding {@code [offset, offset + width)}, or -1 */
    private int area(long offset, int width) {
        if (offset < 0 || offset > size - width || (offset & (width - 1)) != 0) {
            throw BarBounds.outside(index, size, offset, width);
        }
        for (int i = 0; i < areas.length; i++) {
            if (offset >= areaStart[i] && offset + width <= areaEnd[i]) {
                return i;
            }
        }
        return -1;
    }

    @Override
    public int read8(long offset) {
        int a = area(offset, 1);
        return a < 0 ? outsideAreas.read8(offset) : Byte.toUnsignedInt((byte) MMIO8.getVolatile(areas[a], offset - areaStart[a]));
    }

    @Override
    public int read16(long offset) {
        int a = area(offset, 2);
        return a < 0 ? outsideAreas.read16(offset) : Short.toUnsignedInt((short) MMIO16.getVolatile(areas[a], offset - areaStart[a]));
    }

    @Override
    public int read32(long offset) {
        int a = area(offset, 4);
        return a < 0 ? outsideAreas.read32(offset) : (int) MMIO32.getVolatile(areas[a], offset - areaStart[a]);
    }

    @Override
    public void write8(long offset, int value) {
        int a = area(offset, 1);
        if (a < 0) {
            outsideAreas.write8(offset, value);
        } else {
            MMIO8.setVolatile(areas[a], offset - areaStart[a], (byte) value);
        }
    }

    @Override
    public void write16(long offset, int value) {
        int a = area(offset, 2);
        if (a < 0) {
            outsideAreas.write16(offset, value);
        } else {
            MMIO16.setVolatile(areas[a], offset - areaStart[a], (short) value);
        }
    }

    @Override
    public void write32(long offset, int value) {
        int a = area(offset, 4);
        if (a < 0) {
            outsideAreas.write32(offset, value);
        } else {
            MMIO32.setVolatile(areas[a], offset - areaStart[a], value);
        }
    }

    @Override
    public String toString() {
        return "BAR" + index + "[" + size + " bytes, " + areas.length + " mmapped area(s)]";
    }
}
