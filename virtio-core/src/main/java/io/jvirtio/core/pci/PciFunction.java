package io.jvirtio.core.pci;

import java.util.Optional;

/**
 * A PCI function the driver owns: its config space, its memory BARs and a reset. Kernel VFIO
 * implements it ({@code io.jvirtio.core.vfio.VfioPciFunction}); unit tests implement it with a
 * register file. The virtio-pci transport knows nothing else of the function.
 *
 * <p>Config space accesses are little-endian with the width asked for. Offsets are checked
 * against {@link #configSize()}.
 */
public interface PciFunction extends AutoCloseable {
    /** @return where the function is */
    PciAddress address();

    /** @return the size of its config space: 256 (PCI) or 4096 (PCIe) */
    int configSize();

    /** @return the config-space byte at {@code offset} */
    int readConfig8(int offset);

    /** @return the config-space 16-bit value at {@code offset} */
    int readConfig16(int offset);

    /** @return the config-space 32-bit value at {@code offset} */
    int readConfig32(int offset);

    /** Writes a 16-bit config-space value (the command register). */
    void writeConfig16(int offset, int value);

    /**
     * @param index 0..5
     * @return the memory BAR {@code index}, ready for access; empty when the function has no such
     *         BAR or it is an I/O BAR
     */
    Optional<PciBar> bar(int index);

    /** @return whether {@link #reset()} can reset the function (VFIO: {@code VFIO_DEVICE_FLAGS_RESET}) */
    boolean supportsReset();

    /**
     * Resets the function (function-level reset or what the kernel has for it).
     *
     * @throws UnsupportedOperationException when {@link #supportsReset()} is false
     */
    void reset();

    /** Releases the function: BARs unmapped, DMA unmapped, fds closed. Idempotent; BARs must not be used after. */
    @Override
    void close();
}
