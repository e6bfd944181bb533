package io.jvirtio.sys.vfio;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * {@code struct vfio_irq_info}: {@code argsz, flags, index, count}.
 *
 * @param index the IRQ index ({@link VfioPciIndex})
 * @param flags {@code VFIO_IRQ_INFO_*}
 * @param count how many interrupts the index has (MSI-X: table size)
 */
public record VfioIrqInfo(int index, int flags, int count) {
    public static final int SIZE = 16;
    public static final int ARGSZ_OFFSET = 0;
    public static final int FLAGS_OFFSET = 4;
    public static final int INDEX_OFFSET = 8;
    public static final int COUNT_OFFSET = 12;
    /** {@code VFIO_IRQ_INFO_EVENTFD}. */
    public static final int FLAGS_EVENTFD = 0x1;
    /** {@code VFIO_IRQ_INFO_MASKABLE}. */
    public static final int FLAGS_MASKABLE = 0x2;
    /** {@code VFIO_IRQ_INFO_AUTOMASKED}. */
    public static final int FLAGS_AUTOMASKED = 0x4;
    /** {@code VFIO_IRQ_INFO_NORESIZE}. */
    public static final int FLAGS_NORESIZE = 0x8;

    /** Fills the request: {@code argsz}, {@code index}. */
    public static void prepare(MemorySegment buf, int index) {
        buf.asSlice(0, SIZE).fill((byte) 0);
        buf.set(JAVA_INT, ARGSZ_OFFSET, SIZE);
        buf.set(JAVA_INT, INDEX_OFFSET, index);
    }

    /** Decodes the kernel's answer. */
    public static VfioIrqInfo decode(MemorySegment buf) {
        return new VfioIrqInfo(buf.get(JAVA_INT, INDEX_OFFSET), buf.get(JAVA_INT, FLAGS_OFFSET), buf.get(JAVA_INT, COUNT_OFFSET));
    }
}
