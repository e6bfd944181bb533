package io.jvirtio.core.vfio;

import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.pci.PciAddress;
import io.jvirtio.core.pci.PciBar;
import io.jvirtio.core.pci.PciFunction;

import java.util.Optional;

/**
 * A PCI function bound to vfio-pci, opened through kernel VFIO (type1v2 IOMMU container, group,
 * device fd). CONTRACT STUB: the body is being built; the signatures are fixed.
 */
public final class VfioPciFunction implements PciFunction {
    private VfioPciFunction() {
    }

    /**
     * Opens the function at {@code address}: checks sysfs (bound to vfio-pci, its IOMMU group),
     * opens the container and group (viable, type1v2), gets the device fd, reads the regions,
     * enables memory decoding and bus mastering.
     *
     * @throws VfioException naming the function, what is wrong and the fix
     */
    public static VfioPciFunction open(PciAddress address, VfioOptions options) {
        throw new UnsupportedOperationException("VFIO not built yet");
    }

    /**
     * Makes every region of {@code memory} reachable by the device at IOVA = virtual address, now
     * and as regions are added or removed later, until {@link #close()}.
     *
     * @throws VfioException naming the region when the IOMMU refuses it (outside its IOVA ranges,
     *         locked-memory limit)
     */
    public void mapDma(MemoryDomain memory) {
        throw new UnsupportedOperationException();
    }

    @Override public PciAddress address() { throw new UnsupportedOperationException(); }
    @Override public int configSize() { throw new UnsupportedOperationException(); }
    @Override public int readConfig8(int offset) { throw new UnsupportedOperationException(); }
    @Override public int readConfig16(int offset) { throw new UnsupportedOperationException(); }
    @Override public int readConfig32(int offset) { throw new UnsupportedOperationException(); }
    @Override public void writeConfig16(int offset, int value) { throw new UnsupportedOperationException(); }
    @Override public Optional<PciBar> bar(int index) { throw new UnsupportedOperationException(); }
    @Override public boolean supportsReset() { throw new UnsupportedOperationException(); }
    @Override public void reset() { throw new UnsupportedOperationException(); }
    /** Unmaps DMA (removing its memory listener), unmaps BARs, closes the device, group and container fds. */
    @Override public void close() { throw new UnsupportedOperationException(); }
}
