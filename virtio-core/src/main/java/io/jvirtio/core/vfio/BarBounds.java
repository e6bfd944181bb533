package io.jvirtio.core.vfio;

/** The one error of a BAR access outside the BAR or not aligned to its width (built only when thrown). */
final class BarBounds {
    private BarBounds() {
    }

    static IndexOutOfBoundsException outside(int index, long size, long offset, int width) {
        return new IndexOutOfBoundsException("BAR" + index + ": " + (width * 8) + "-bit access at 0x" + Long.toHexString(offset)
                + " is outside the " + size + "-byte BAR or not " + width + "-byte aligned");
    }
}
