package io.jvirtio.blk;

import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.pci.PciAddress;
import io.jvirtio.core.pci.VirtioPciOptions;
import io.jvirtio.core.vfio.VfioException;
import io.jvirtio.core.vfio.VfioOptions;
import io.jvirtio.testkit.OpenFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** {@link VirtioBlkDevice#attachPci} where VFIO is not there: it fails and leaves nothing open. */
class BlkAttachPciTest {
    @TempDir
    Path dir;

    @Test
    void withoutVfioTheAttachFailsAndNothingStaysOpen() throws Exception {
        // the function is in (fake) sysfs, /dev/vfio is not there
        Files.createDirectories(dir.resolve("sys-bus-pci-devices").resolve("0000:00:05.0"));
        VfioOptions nowhere = new VfioOptions(dir.resolve("dev-vfio"), dir.resolve("sys-bus-pci-devices"), VfioOptions.BarAccess.MAP_WHEN_POSSIBLE);
        VirtioBlkOptions options = VirtioBlkOptions.defaults().withHugePages(HugePagePolicy.NEVER);
        VfioException e = assertThrows(VfioException.class, () -> VirtioBlkDevice.attachPci("PciBlk0",
                PciAddress.parse("0000:00:05.0"), options, nowhere, VirtioPciOptions.defaults()));
        assertTrue(e.getMessage().startsWith("PCI function 0000:00:05.0: no VFIO on this host (" + dir.resolve("dev-vfio")
                + " does not exist): load vfio-pci (modprobe vfio-pci) and bind the device: "), e.getMessage());
        assertTrue(OpenFiles.list().stream().noneMatch(f -> f.contains("jvirtio-PciBlk0") || f.contains("vfio")), OpenFiles.list().toString());
    }
}
