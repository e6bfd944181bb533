package io.jvirtio.core.vfio;

import io.jvirtio.core.pci.PciAddress;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.stream.Stream;

/**
 * What sysfs says about a PCI function ({@code /sys/bus/pci/devices/BDF/}): its IOMMU group, its
 * driver, ids, {@code driver_override}, and the other members of its group. Read for checks and
 * error messages only; binding stays the administrator's job.
 *
 * <p>The root is configurable ({@link VfioOptions#sysfsPci()}) so tests can use a fake tree; the
 * group's member list is found through the {@code iommu_group} link, wherever it points.
 */
public final class SysfsPci {
    /** The driver a function must be bound to. */
    public static final String VFIO_PCI = "vfio-pci";

    private final Path root;

    /** @param root normally {@code /sys/bus/pci/devices} */
    public SysfsPci(Path root) {
        this.root = root;
    }

    /** @return {@code root/BDF} */
    public Path deviceDir(PciAddress address) {
        return root.resolve(address.toString());
    }

    /** @return whether sysfs knows the function */
    public boolean exists(PciAddress address) {
        return Files.isDirectory(deviceDir(address));
    }

    /** @return the name of the driver bound to the function (the {@code driver} link's target), empty when none */
    public Optional<String> driver(PciAddress address) {
        return linkName(deviceDir(address).resolve("driver"));
    }

    /** @return the function's IOMMU group number (the {@code iommu_group} link's target), empty without an IOMMU */
    public OptionalInt iommuGroup(PciAddress address) {
        Optional<String> name = linkName(deviceDir(address).resolve("iommu_group"));
        if (name.isEmpty()) {
            return OptionalInt.empty();
        }
        try {
            return OptionalInt.of(Integer.parseInt(name.get()));
        } catch (NumberFormatException e) {
            return OptionalInt.empty();
        }
    }

    /** @return the {@code vendor} file, e.g. {@code 0x1af4} */
    public Optional<String> vendor(PciAddress address) {
        return readLine(deviceDir(address).resolve("vendor"));
    }

    /** @return the {@code device} file, e.g. {@code 0x1042} */
    public Optional<String> device(PciAddress address) {
        return readLine(deviceDir(address).resolve("device"));
    }

    /** @return the {@code driver_override} file's content, empty when unset ({@code (null)}) or absent */
    public Optional<String> driverOverride(PciAddress address) {
        return readLine(deviceDir(address).resolve("driver_override")).filter(s -> !s.isEmpty() && !s.equals("(null)"));
    }

    /**
     * One device of an IOMMU group.
     *
     * @param name   its sysfs name (a BDF for PCI devices)
     * @param driver its driver, empty when unbound
     */
    public record GroupMember(String name, Optional<String> driver) {
        @Override
        public String toString() {
            return name + " (" + driver.orElse("no driver") + ")";
        }
    }

    /** @return every device of the function's IOMMU group with its driver, sorted by name; empty when unknown */
    public List<GroupMember> groupMembers(PciAddress address) {
        Path devices = deviceDir(address).resolve("iommu_group").resolve("devices");
        List<GroupMember> members = new ArrayList<>();
        try (Stream<Path> s = Files.list(devices)) {
            for (Path p : s.sorted().toList()) {
                members.add(new GroupMember(p.getFileName().toString(), linkName(p.resolve("driver"))));
            }
        } catch (IOException | UncheckedIOException e) {
            return List.of();
        }
        return members;
    }

    private static Optional<String> linkName(Path link) {
        try {
            return Optional.of(Files.readSymbolicLink(link).getFileName().toString());
        } catch (IOException | UnsupportedOperationException e) {
            return Optional.empty();
        }
    }

    private static Optional<String> readLine(Path file) {
        try {
            return Optional.of(Files.readString(file).strip());
        } catch (IOException e) {
            return Optional.empty();
        }
    }
}
