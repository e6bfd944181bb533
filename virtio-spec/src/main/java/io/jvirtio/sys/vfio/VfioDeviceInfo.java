package io.jvirtio.sys.vfio;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * {@code struct vfio_device_info}: {@code argsz, flags, num_regions, num_irqs, cap_offset, pad}.
 * Linux 6.1's struct ends at {@code cap_offset} (20 bytes); newer headers add a pad (24). Passing
 * {@link #SIZE} works on both (the kernel copies {@code min(argsz, its size)}).
 *
 * @param flags      {@code VFIO_DEVICE_FLAGS_*}
 * @param numRegions how many regions the device has
 * @param numIrqs    how many IRQ indexes
 */
public record VfioDeviceInfo(int flags, int numRegions, int numIrqs) {
    public static final int SIZE = 24;
    public static final int ARGSZ_OFFSET = 0;
    public static final int FLAGS_OFFSET = 4;
    public static final int NUM_REGIONS_OFFSET = 8;
    public static final int NUM_IRQS_OFFSET = 12;
    public static final int CAP_OFFSET_OFFSET = 16;
    /** {@code VFIO_DEVICE_FLAGS_RESET}: {@code VFIO_DEVICE_RESET} is supported. */
    public static final int FLAGS_RESET = 0x1;
    /** {@code VFIO_DEVICE_FLAGS_PCI}: a vfio-pci device. */
    public static final int FLAGS_PCI = 0x2;
    /** {@code VFIO_DEVICE_FLAGS_PLATFORM}. */
    public static final int FLAGS_PLATFORM = 0x4;
    /** {@code VFIO_DEVICE_FLAGS_CAPS}: {@code cap_offset} is valid. */
    public static final int FLAGS_CAPS = 0x80;

    /** Fills the request: {@code argsz}. */
    public static void prepare(MemorySegment buf) {
        buf.asSlice(0, SIZE).fill((byte) 0);
        buf.set(JAVA_INT, ARGSZ_OFFSET, SIZE);
    }

    /** Decodes the kernel's answer. */
    public static VfioDeviceInfo decode(MemorySegment buf) {
        return new VfioDeviceInfo(buf.get(JAVA_INT, FLAGS_OFFSET), buf.get(JAVA_INT, NUM_REGIONS_OFFSET), buf.get(JAVA_INT, NUM_IRQS_OFFSET));
    }

    /** @return whether the device can be reset */
    public boolean resettable() {
        return (flags & FLAGS_RESET) != 0;
    }

    /** @return whether it is a vfio-pci device */
    public boolean pci() {
        return (flags & FLAGS_PCI) != 0;
    }
}
