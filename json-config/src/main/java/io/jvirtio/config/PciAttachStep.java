package io.jvirtio.config;

import io.jvirtio.core.DriverAttach;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.pci.PciAddress;
import io.jvirtio.core.pci.VirtioPciOptions;
import io.jvirtio.core.vfio.VfioAttach;
import io.jvirtio.core.vfio.VfioOptions;

import java.util.Objects;

import static io.jvirtio.config.JsonObjectReader.quote;

/**
 * {@code trtype pci}: open the virtio PCI function {@code traddr} through kernel VFIO ({@link VfioAttach}). A
 * function that cannot be opened (no {@code /dev/vfio}, not bound to vfio-pci, group not viable, no permission,
 * DMA refused, not a virtio-pci modern device) is reported on {@code traddr} with VFIO's own message, which says
 * the fix.
 */
record PciAttachStep(VfioOptions vfio, VirtioPciOptions pci) implements TransportAttachStep {
    PciAttachStep {
        Objects.requireNonNull(vfio, "vfio");
        Objects.requireNonNull(pci, "pci");
    }

    @Override
    public <T> T attach(ControllerParams params, long memoryBytes, HugePagePolicy hugePages, DriverAttach<T> driver) {
        PciAddress address = params.pciAddress();
        return VfioAttach.attach(params.name(), address, memoryBytes, hugePages, vfio, pci, e -> refused(params, address, e.getMessage(), e),
                driver);
    }

    private static ConfigException refused(ControllerParams params, PciAddress address, String why, RuntimeException cause) {
        String addr = address.toString().equals(params.traddr()) ? quote(params.traddr()) : quote(params.traddr()) + " (" + address + ")";
        return new ConfigException(JsonPath.of("traddr"), addr + ": cannot attach " + params.name() + " over VFIO: " + why, cause);
    }
}
