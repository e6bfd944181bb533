package io.jvirtio.core.vfio;

import io.jvirtio.core.pci.PciAddress;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every open()-time error a user can meet, in the order open() checks them, against a fake sysfs
 * tree and a fake /dev/vfio (the host has no VFIO; the real kernel path is exercised in the guest).
 */
class VfioOpenErrorsTest {
    private static final PciAddress BDF = PciAddress.parse("0000:00:05.0");
    private static final PciAddress OTHER = PciAddress.parse("0000:00:06.0");

    @TempDir
    Path root;
    Path sysDevices;
    Path devVfio;

    @BeforeEach
    void tree() throws IOException {
        sysDevices = Files.createDirectories(root.resolve("sys/bus/pci/devices"));
        Files.createDirectories(root.resolve("sys/bus/pci/drivers/vfio-pci"));
        Files.createDirectories(root.resolve("sys/bus/pci/drivers/virtio-pci"));
        devVfio = root.resolve("dev/vfio");
    }

    /** A function like sysfs shows it: ids, driver link, group link, the group's devices/ entry. */
    private void function(PciAddress a, String driver, Integer group) throws IOException {
        Path dir = Files.createDirectories(sysDevices.resolve(a.toString()));
        Files.writeString(dir.resolve("vendor"), "0x1af4\n");
        Files.writeString(dir.resolve("device"), "0x1042\n");
        Files.writeString(dir.resolve("driver_override"), driver == null || !driver.equals("vfio-pci") ? "(null)\n" : "vfio-pci\n");
        if (driver != null) {
            Files.createSymbolicLink(dir.resolve("driver"), root.resolve("sys/bus/pci/drivers/" + driver));
        }
        if (group != null) {
            Path g = Files.createDirectories(root.resolve("sys/kernel/iommu_groups/" + group + "/devices"));
            Files.createSymbolicLink(dir.resolve("iommu_group"), g.getParent());
            Files.createSymbolicLink(g.resolve(a.toString()), dir);
        }
    }

    private VfioOptions options() {
        return new VfioOptions(devVfio, sysDevices, VfioOptions.BarAccess.MAP_WHEN_POSSIBLE);
    }

    private String openFails() {
        return assertThrows(VfioException.class, () -> VfioPciFunction.open(BDF, options())).getMessage();
    }

    @Test
    void sysfsReadsTheFunction() throws IOException {
        function(BDF, "vfio-pci", 7);
        function(OTHER, "virtio-pci", 7);
        SysfsPci s = new SysfsPci(sysDevices);
        assertTrue(s.exists(BDF));
        assertEquals(Optional.of("vfio-pci"), s.driver(BDF));
        assertEquals(OptionalInt.of(7), s.iommuGroup(BDF));
        assertEquals(Optional.of("0x1af4"), s.vendor(BDF));
        assertEquals(Optional.of("0x1042"), s.device(BDF));
        assertEquals(Optional.of("vfio-pci"), s.driverOverride(BDF));
        assertEquals(Optional.empty(), s.driverOverride(OTHER), "(null) is no override");
        assertEquals(List.of(new SysfsPci.GroupMember("0000:00:05.0", Optional.of("vfio-pci")),
                new SysfsPci.GroupMember("0000:00:06.0", Optional.of("virtio-pci"))), s.groupMembers(BDF));
    }

    @Test
    void noSuchFunction() {
        String m = openFails();
        assertTrue(m.contains("0000:00:05.0 does not exist") && m.contains("lspci -D"), m);
    }

    @Test
    void noVfioAtAll() throws IOException {
        function(BDF, "virtio-pci", 1);
        String m = openFails();
        assertTrue(m.contains("no VFIO") && m.contains(devVfio + " does not exist") && m.contains("modprobe vfio-pci"), m);
        assertTrue(m.contains("echo vfio-pci > " + sysDevices.resolve("0000:00:05.0/driver_override")), m);
    }

    @Test
    void notBoundToVfioPciNamesTheDriverAndTheBindCommands() throws IOException {
        Files.createDirectories(devVfio);
        function(BDF, "virtio-pci", 1);
        String m = openFails();
        assertTrue(m.contains("is bound to driver virtio-pci, not vfio-pci"), m);
        String dev = sysDevices.resolve("0000:00:05.0").toString();
        assertTrue(m.contains("echo 0000:00:05.0 > " + dev + "/driver/unbind; echo vfio-pci > " + dev + "/driver_override; echo 0000:00:05.0 > "
                + root.resolve("sys/bus/pci/drivers_probe")), m);
    }

    @Test
    void noDriverAtAll() throws IOException {
        Files.createDirectories(devVfio);
        function(BDF, null, 1);
        String m = openFails();
        assertTrue(m.contains("is bound to no driver") && !m.contains("unbind"), m);
    }

    @Test
    void noIommuGroup() throws IOException {
        Files.createDirectories(devVfio);
        function(BDF, "vfio-pci", null);
        String m = openFails();
        assertTrue(m.contains("has no IOMMU group") && m.contains("intel_iommu=on"), m);
    }

    @Test
    void groupFileMissing() throws IOException {
        Files.createDirectories(devVfio);
        function(BDF, "vfio-pci", 3);
        String m = openFails();
        assertTrue(m.contains("IOMMU group 3") && m.contains(devVfio.resolve("3") + " does not exist"), m);
    }

    @Test
    void aGroupFileThatIsNoGroupFailsCleanlyAndLeaksNothing() throws IOException {
        Files.createDirectories(devVfio);
        function(BDF, "vfio-pci", 3);
        Files.writeString(devVfio.resolve("3"), "");
        Files.writeString(devVfio.resolve("vfio"), "");
        long fds = openFds();
        String m = openFails();
        assertTrue(m.contains(devVfio.resolve("3") + " is not a VFIO group") && m.contains("ENOTTY"), m);
        assertEquals(fds, openFds(), "every fd closed");
        assertEquals(m, openFails(), "the group claim was released: same error, not 'in use'");
    }

    private static long openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    @Test
    void secondFunctionOfAGroupInThisProcess() {
        Path g = devVfio.resolve("9");
        VfioGroupClaims.claim(g, 9, OTHER);
        try {
            VfioException e = assertThrows(VfioException.class, () -> VfioGroupClaims.claim(g, 9, BDF));
            assertTrue(e.getMessage().contains("group 9") && e.getMessage().contains("already in use by this process")
                    && e.getMessage().contains("0000:00:06.0"), e.getMessage());
        } finally {
            VfioGroupClaims.release(g, OTHER);
        }
        VfioGroupClaims.claim(g, 9, BDF);
        VfioGroupClaims.release(g, BDF);
    }

    /* The errors below need a kernel to happen (root bypasses file modes here); their wording is checked directly. */

    @Test
    void notViableListsEveryDeviceOfTheGroupWithItsDriver() throws IOException {
        function(BDF, "vfio-pci", 7);
        function(OTHER, "virtio-pci", 7);
        String m = VfioErrors.notViable(BDF, 7, new SysfsPci(sysDevices).groupMembers(BDF)).getMessage();
        assertTrue(m.contains("IOMMU group 7 of PCI function 0000:00:05.0 is not viable"), m);
        assertTrue(m.contains("0000:00:05.0 (vfio-pci), 0000:00:06.0 (virtio-pci)"), m);
    }

    @Test
    void permissionDeniedNamesTheFileAndOwner() throws IOException {
        Path f = Files.writeString(root.resolve("3"), "");
        String m = VfioErrors.permissionDenied(BDF, f, null).getMessage();
        assertTrue(m.contains("permission denied opening " + f) && m.contains("owner ") && m.contains("chown") && m.contains("root"), m);
    }

    @Test
    void busyAndNoType1v2() {
        String busy = VfioErrors.groupBusy(BDF, 3, devVfio.resolve("3"), null).getMessage();
        assertTrue(busy.contains("EBUSY") && busy.contains("another process") && busy.contains("fuser"), busy);
        String t1 = VfioErrors.noType1v2(BDF, devVfio.resolve("vfio")).getMessage();
        assertTrue(t1.contains("type1v2") && t1.contains("vfio_iommu_type1"), t1);
    }
}
