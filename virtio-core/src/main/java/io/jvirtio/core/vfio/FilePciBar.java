package io.jvirtio.core.vfio;

import io.jvirtio.core.pci.PciBar;

/**
 * A BAR reached with {@code pread}/{@code pwrite} on the device fd at the region's offset: for
 * BARs VFIO will not let be mmapped, and when {@link VfioOptions.BarAccess#FILE_ONLY} asks for it.
 * One syscall per access; the kernel performs it with exactly the width asked for.
 */
final class FilePciBar implements PciBar {
    private final int index;
    private final long size;
    private final long regionOffset;
    private final DeviceFd device;

    FilePciBar(int index, long size, long regionOffset, DeviceFd device) {
        this.index = index;
        this.size = size;
        this.regionOffset = regionOffset;
        this.device = device;
    }

    @Override
    public int index() {
        return index;
    }

    @Override
    public long size() {
        return size;
    }

    private long at(long offset, int width) {
        if (offset < 0 || offset > size - width || (offset & (width - 1)) != 0) {
            throw BarBounds.outside(index, size, offset, width);
        }
        return regionOffset + offset;
    }

    @Override public int read8(long offset) { return device.read8(at(offset, 1)); }
    @Override public int read16(long offset) { return device.read16(at(offset, 2)); }
    @Override public int read32(long offset) { return device.read32(at(offset, 4)); }
    @Override public void write8(long offset, int value) { device.write8(at(offset, 1), value); }
    @Override public void write16(long offset, int value) { device.write16(at(offset, 2), value); }
    @Override public void write32(long offset, int value) { device.write32(at(offset, 4), value); }

    @Override
    public String toString() {
        return "BAR" + index + "[" + size + " bytes, pread/pwrite at 0x" + Long.toHexString(regionOffset) + "]";
    }
}
