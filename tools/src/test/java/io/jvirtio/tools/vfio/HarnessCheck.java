package io.jvirtio.tools.vfio;

import io.jvirtio.core.pci.PciAddress;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static io.jvirtio.tools.vfio.GuestCheckException.check;

/**
 * The guest fixture as the guest JVM sees it, before any jvirtio code runs: the VFIO container
 * device, one {@code /dev/vfio/GROUP} per bound function, each bound function's driver
 * {@code vfio-pci} and its virtio-pci modern identity, the unbound function still on
 * {@code virtio-pci}, no device at the absent address, the PCI Express function below its root port
 * with function-level reset, and the emulated IOMMU's 48-bit address width (IOVA = virtual address
 * needs it). Guest side.
 */
final class HarnessCheck {
    private static final Path DEVICES = Path.of("/sys/bus/pci/devices");
    private static final Path DEV_VFIO = Path.of("/dev/vfio");
    private final PrintStream out;

    HarnessCheck(PrintStream out) {
        this.out = out;
    }

    /**
     * @param bound   modern functions the script bound to vfio-pci
     * @param others  other functions bound to vfio-pci (no identity check: legacy, ...)
     * @param unbound the function left on virtio-pci
     * @param absent  an address without a device
     * @param pcie    the bound function behind a pcie-root-port
     */
    void run(List<PciAddress> bound, List<PciAddress> others, PciAddress unbound, PciAddress absent, PciAddress pcie) throws IOException {
        check(Files.exists(DEV_VFIO.resolve("vfio")), "/dev/vfio/vfio is missing (vfio module not loaded?)");
        for (PciAddress a : bound) {
            String id = boundToVfio(a);
            check(id.startsWith("0x1af4:") && id.compareTo("0x1af4:0x1040") >= 0 && id.compareTo("0x1af4:0x107f") <= 0,
                    a + " is " + id + ", expected a modern virtio function 0x1af4:0x104x (disable-legacy=on)");
        }
        for (PciAddress a : others) {
            boundToVfio(a);
        }
        String unboundDriver = link(DEVICES.resolve(unbound.toString()).resolve("driver"));
        check("virtio-pci".equals(unboundDriver), unbound + " is bound to " + unboundDriver + ", expected virtio-pci (left unbound on purpose)");
        check(!Files.exists(DEVICES.resolve(absent.toString())), "there is a device at " + absent + ", which must stay empty");
        check(pcie.bus() != 0, pcie + " is on the root bus, expected below its pcie-root-port");
        Path resetMethod = DEVICES.resolve(pcie.toString()).resolve("reset_method");
        String methods = Files.exists(resetMethod) ? read(resetMethod) : "(no reset_method)";
        check(methods.contains("flr"), pcie + " reset methods: " + methods + ", expected flr (a PCI Express function)");
        out.println("harness: " + pcie + " below its root port, reset methods: " + methods);
        Path cap = DEVICES.resolve(bound.getFirst().toString()).resolve("iommu/intel-iommu/cap");
        long vtdCap = Long.parseUnsignedLong(read(cap), 16);
        int addressWidth = (int) ((vtdCap >>> 16) & 0x3f) + 1; // VT-d CAP_REG.MGAW + 1
        check(addressWidth == 48, "the IOMMU's address width is " + addressWidth + " bits (VT-d cap " + Long.toHexString(vtdCap)
                + "), expected 48 (intel-iommu aw-bits=48)");
        out.println("harness: IOMMU address width " + addressWidth + " bits; " + unbound + " on " + unboundDriver
                + "; /dev/vfio: " + String.join(" ", list(DEV_VFIO)));
    }

    /** Checks that {@code a} is on vfio-pci with its group file there; @return its {@code vendor:device} */
    private String boundToVfio(PciAddress a) throws IOException {
        Path dev = DEVICES.resolve(a.toString());
        String driver = link(dev.resolve("driver"));
        check("vfio-pci".equals(driver), a + " is bound to " + driver + ", expected vfio-pci");
        String group = link(dev.resolve("iommu_group"));
        check(group != null, a + " has no iommu_group");
        check(Files.exists(DEV_VFIO.resolve(group)), "/dev/vfio/" + group + " (group of " + a + ") is missing");
        String id = read(dev.resolve("vendor")) + ":" + read(dev.resolve("device"));
        out.println("harness: " + a + " " + id + " driver " + driver + ", /dev/vfio/" + group);
        return id;
    }

    /** @return the file name a symlink points to, or null when there is no link */
    private static String link(Path p) throws IOException {
        return Files.isSymbolicLink(p) ? Files.readSymbolicLink(p).getFileName().toString() : null;
    }

    private static String read(Path p) throws IOException {
        return Files.readString(p).strip();
    }

    private static List<String> list(Path dir) {
        try (var s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
