package io.jvirtio.blk;

import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.pci.PciAddress;
import io.jvirtio.core.pci.VirtioPciOptions;
import io.jvirtio.core.vfio.VfioOptions;
import io.jvirtio.spec.VirtioException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** {@link VirtioBlkDevice#attachPci} where VFIO is not there: it fails and leaves nothing open. */
class BlkAttachPciTest {
    @TempDir
    Path dir;

    @Test
    void withoutVfioTheAttachFailsAndNothingStaysOpen() {
        VfioOptions nowhere = new VfioOptions(dir.resolve("dev-vfio"), dir.resolve("sys-bus-pci-devices"), VfioOptions.BarAccess.MAP_WHEN_POSSIBLE);
        VirtioBlkOptions options = VirtioBlkOptions.defaults().withHugePages(HugePagePolicy.NEVER);
        RuntimeException e = assertThrows(RuntimeException.class, () -> VirtioBlkDevice.attachPci("PciBlk0",
                PciAddress.parse("0000:00:05.0"), options, nowhere, VirtioPciOptions.defaults()));
        // TIGHTEN AFTER MERGE with the VFIO layer: a VfioException naming 0000:00:05.0, the missing /dev/vfio and the fix;
        // this tree's VfioPciFunction is a contract stub that throws UnsupportedOperationException.
        if (e instanceof VirtioException) {
            assertTrue(e.getMessage().contains("0000:00:05.0"), e.getMessage());
        } else {
            assertInstanceOf(UnsupportedOperationException.class, e);
        }
        assertTrue(openFiles().stream().noneMatch(f -> f.contains("jvirtio-PciBlk0") || f.contains("vfio")), openFiles().toString());
    }

    private static List<String> openFiles() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.map(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString();
                } catch (IOException gone) {
                    return "";
                }
            }).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
