package io.jvirtio.core.pci;

/**
 * One memory BAR of a PCI function, accessed with exactly the width asked for (virtio 1.2
 * 4.1.3.1: the driver accesses each field with its own width), little-endian, in program order,
 * never merged or cached. Offsets are from the start of the BAR.
 *
 * <p>Implementations are thread-safe and allocate nothing per access: {@link #write16} is the
 * virtqueue notify on the I/O path.
 */
public interface PciBar {
    /** @return the BAR number, 0..5 */
    int index();

    /** @return the BAR's size in bytes */
    long size();

    /** @return the byte at {@code offset} (0..0xff) */
    int read8(long offset);

    /** @return the 16-bit little-endian value at {@code offset} (0..0xffff) */
    int read16(long offset);

    /** @return the 32-bit little-endian value at {@code offset} */
    int read32(long offset);

    /** Stores the low 8 bits of {@code value} at {@code offset}. */
    void write8(long offset, int value);

    /** Stores the low 16 bits of {@code value} at {@code offset}, little-endian. */
    void write16(long offset, int value);

    /** Stores {@code value} at {@code offset}, little-endian. */
    void write32(long offset, int value);
}
