package io.jvirtio.core.vfio;

import io.jvirtio.core.DriverAttach;
import io.jvirtio.core.mem.AddressWindow;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.pci.PciAddress;
import io.jvirtio.core.pci.VirtioPciOptions;
import io.jvirtio.core.pci.VirtioPciTransport;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.sys.vfio.VfioIommuType1Info;

import java.util.List;
import java.util.function.Function;

/**
 * Attaching a driver to a virtio PCI function bound to vfio-pci, the one way every caller does it
 * (SPDK's {@code bdev_virtio_pci_*_dev_create}): open the function through VFIO, create a memory
 * domain for the device inside the IOMMU's IOVA ranges and map it for DMA, take the function over with the virtio-pci transport,
 * hand transport and memory to the driver's attach. On any failure nothing stays open: the
 * transport (or the bare function) is closed, then the domain.
 */
public final class VfioAttach {
    private VfioAttach() {
    }

    /**
     * Opens the function at {@code address} and attaches {@code driver}.
     *
     * @param name        names the domain and its memfds (the device name)
     * @param address     the PCI function, bound to vfio-pci
     * @param memoryBytes the domain's first region
     * @param hugePages   how the domain is backed
     * @param vfio        where VFIO is, how BARs are reached
     * @param pci         virtio-pci transport settings
     * @param driver      the driver's attach
     * @throws VirtioException naming the function when it cannot be opened or is not a usable
     *                         virtio device, or whatever the driver's attach throws
     */
    public static <T> T attach(String name, PciAddress address, long memoryBytes, HugePagePolicy hugePages, VfioOptions vfio,
                               VirtioPciOptions pci, DriverAttach<T> driver) {
        return attach(name, address, memoryBytes, hugePages, vfio, pci, e -> e, driver);
    }

    /**
     * As {@link #attach(String, PciAddress, long, HugePagePolicy, VfioOptions, VirtioPciOptions, DriverAttach)}, with a
     * failure before the driver runs turned into the caller's error, e.g. one that names a config param.
     *
     * @param openFailure maps a failure before the driver runs; the driver's own failures pass unchanged
     */
    public static <T> T attach(String name, PciAddress address, long memoryBytes, HugePagePolicy hugePages, VfioOptions vfio,
                               VirtioPciOptions pci, Function<? super VirtioException, ? extends RuntimeException> openFailure,
                               DriverAttach<T> driver) {
        MemoryDomain memory = null;
        VfioPciFunction function = null;
        VirtioPciTransport transport;
        try {
            function = VfioPciFunction.open(address, vfio);
            // IOVA = VA: a 39-bit IOMMU cannot translate the JVM's 47-bit mmap addresses, so the
            // regions are placed where it can (the domain keeps growth there too)
            memory = MemoryDomain.create(name, memoryBytes, hugePages, iovaWindow(function.iommuInfo()));
            function.mapDma(memory);
            transport = VirtioPciTransport.open(function, pci);
        } catch (VirtioException e) {
            closeAfter(e, function, memory);
            throw openFailure.apply(e);
        } catch (RuntimeException e) {
            closeAfter(e, function, memory);
            throw e;
        }
        try {
            return driver.attach(transport, memory);
        } catch (RuntimeException e) {
            try {
                transport.destruct();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            closeAfter(e, null, memory);
            throw e;
        }
    }

    /**
     * @return the IOVA ranges as the window the device's memory must lie in; {@link AddressWindow#ANY}
     *         when the kernel reports none (no restriction known, as {@link VfioIommuType1Info#iovaUsable} reads it)
     */
    static AddressWindow iovaWindow(VfioIommuType1Info info) {
        List<AddressWindow.Range> ranges = info.ranges().stream().map(r -> new AddressWindow.Range(r.start(), r.end())).toList();
        return AddressWindow.of(ranges);
    }

    /** The function first: closing it unmaps DMA while its container is still open. */
    private static void closeAfter(RuntimeException failure, VfioPciFunction function, MemoryDomain memory) {
        if (function != null) {
            try {
                function.close();
            } catch (RuntimeException e) {
                failure.addSuppressed(e);
            }
        }
        if (memory != null) {
            try {
                memory.close();
            } catch (RuntimeException e) {
                failure.addSuppressed(e);
            }
        }
    }
}
