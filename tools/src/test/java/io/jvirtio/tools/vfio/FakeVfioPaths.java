package io.jvirtio.tools.vfio;

import io.jvirtio.core.pci.PciAddress;
import io.jvirtio.core.vfio.VfioOptions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@link VfioOptions} whose {@code /dev/vfio} or sysfs is a temporary directory that lacks one
 * piece, for the IOMMU-group errors: a {@code /dev/vfio} without the function's group file, a
 * sysfs where the function is bound to vfio-pci but has no {@code iommu_group} link (no IOMMU).
 * Nothing of a device is opened. Guest side.
 */
final class FakeVfioPaths {
    private FakeVfioPaths() {
    }

    /** @return the real sysfs and an empty directory as {@code /dev/vfio}: the group file is missing */
    static VfioOptions devVfioWithoutGroups() throws IOException {
        Path devVfio = Files.createTempDirectory("dev-vfio");
        return new VfioOptions(devVfio, VfioOptions.defaults().sysfsPci(), VfioOptions.BarAccess.MAP_WHEN_POSSIBLE);
    }

    /**
     * @return the real {@code /dev/vfio} and a sysfs holding only {@code address}, bound to vfio-pci
     *         (a {@code driver} link) without an {@code iommu_group} link
     */
    static VfioOptions sysfsWithoutIommuGroup(PciAddress address) throws IOException {
        Path root = Files.createTempDirectory("sysfs-pci");
        Path dev = Files.createDirectories(root.resolve("devices").resolve(address.toString()));
        Files.createSymbolicLink(dev.resolve("driver"), Path.of("../../drivers/vfio-pci"));
        return new VfioOptions(VfioOptions.defaults().devVfio(), root.resolve("devices"), VfioOptions.BarAccess.MAP_WHEN_POSSIBLE);
    }
}
