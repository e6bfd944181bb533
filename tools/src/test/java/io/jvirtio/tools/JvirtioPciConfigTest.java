package io.jvirtio.tools;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static io.jvirtio.tools.CommandResult.run;
import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code jvirtio bdevs} and {@code jvirtio perf} on a {@code trtype pci} config where the function cannot be opened
 * (this host: no {@code /dev/vfio}): the config error names the entry, the controller and the address, and the
 * command exits 1. The commands on a bound function run in the Linux-guest tests.
 */
class JvirtioPciConfigTest {
    @TempDir
    Path dir;

    private Path config(String traddr) throws Exception {
        return Files.writeString(dir.resolve("pci.json"), """
                {"subsystems": [{"subsystem": "bdev", "config": [
                  {"method": "bdev_virtio_attach_controller",
                   "params": {"name": "VirtioBlk0", "dev_type": "blk", "trtype": "pci", "traddr": "%s"}}]}]}
                """.formatted(traddr));
    }

    @Test
    void bdevsAndPerfReportAFunctionThatCannotBeOpenedByEntryControllerAndAddress() throws Exception {
        Path config = config("0000:00:05.0");
        String expected = ": " + config + ": subsystems[0].config[0].params.traddr: \"0000:00:05.0\": cannot attach VirtioBlk0 over VFIO: ";
        for (String[] cmd : new String[][]{{"bdevs", "-c", config.toString()}, {"bdevs", "--json", config.toString()},
                {"save-config", "--config", config.toString()}, {"perf", "-c", config.toString(), "-t", "1", "-w", "verify"}}) {
            CommandResult r = run(cmd);
            assertEquals(1, r.status, String.join(" ", cmd) + ": " + r.out + r.err);
            assertTrue(r.err.startsWith("jvirtio " + cmd[0] + expected), r.err);
            // the cause is VFIO's own: the function is not in sysfs here, or there is no /dev/vfio; each names the fix
            assertTrue(r.err.contains("over VFIO: PCI function 0000:00:05.0 does not exist") || r.err.contains(
                    "over VFIO: PCI function 0000:00:05.0: no VFIO on this host (/dev/vfio does not exist): load vfio-pci"), r.err);
            assertFalse(r.err.contains("socket"), "nothing about sockets for a PCI function: " + r.err);
            assertEquals("", r.out);
        }
    }

    @Test
    void anInvalidAddressIsRefusedWithSpdksText() throws Exception {
        Path config = config("0000:00:20.0");
        CommandResult r = run("bdevs", "-c", config.toString());
        assertEquals(1, r.status);
        assertTrue(r.err.startsWith("jvirtio bdevs: " + config + ": subsystems[0].config[0].params.traddr: Invalid PCI address '0000:00:20.0'"),
                r.err);
    }

    @Test
    void theHelpNamesBothTransports() {
        CommandResult r = run("--help");
        assertTrue(r.out.contains("\"pci\": a virtio PCI function bound to vfio-pci"), r.out);
        r = run("perf", "--help");
        assertTrue(r.out.contains("trtype \"user\" (vhost-user socket) or \"pci\""), r.out);
        r = run("bdevs");
        assertEquals(2, r.status);
        assertTrue(r.err.contains("--json CONFIG (or -c CONFIG) is required"), r.err);
    }
}
