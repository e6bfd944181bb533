package io.jvirtio.backend.guest;

import io.jvirtio.testkit.guest.GuestKernel;
import io.jvirtio.testkit.guest.GuestResult;
import io.jvirtio.testkit.guest.LinuxGuest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The guest fixture itself ({@link LinuxGuest}): exit status and output, 9p shares, modules,
 * timeouts, QEMU errors, and the intel-iommu + vfio-pci path the VFIO work builds on.
 */
@RequiresLinuxGuest
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class LinuxGuestHarnessTest {

    @Test
    void exitStatusOutputSharesAndModules(@TempDir Path dir) throws Exception {
        Path ro = Files.createDirectories(dir.resolve("ro"));
        Path rw = Files.createDirectories(dir.resolve("rw"));
        Files.writeString(ro.resolve("hello.txt"), "hello from the host\n");
        LinuxGuest guest = LinuxGuest.builder()
                .share("ro", ro, "/mnt/ro", true)
                .share("rw", rw, "/mnt/rw", false)
                .keepLogsIn(dir.resolve("logs"))
                .timeout(Duration.ofSeconds(60))
                .build();
        assertEquals(List.of(), guest.modulePlan().missing(), "modules missing from " + guest.kernel());
        GuestResult r = guest.run("""
                echo "to stdout"
                echo "to stderr" >&2
                cat /mnt/ro/hello.txt
                if touch /mnt/ro/nope 2>/dev/null; then echo "read-only share is writable"; fi
                echo "written by the guest" > /mnt/rw/out.txt
                lsmod | cut -d' ' -f1 | sort > /mnt/rw/lsmod.txt
                skip_step "a step that does not apply"
                exit 7
                """);
        assertEquals(7, r.exitStatus(), r::describe);
        assertFalse(r.timedOut());
        assertFalse(r.succeeded());
        assertEquals(List.of("to stdout", "to stderr", "hello from the host", "jvirtio-skip: a step that does not apply"),
                r.scriptOutput().lines().toList(), "the script's output alone, in order");
        assertTrue(r.console().contains("to stdout") && r.console().contains("jvirtio-guest: END"), "the console has the script's lines too");
        assertEquals(List.of("a step that does not apply"), r.skippedSteps());
        assertEquals("written by the guest\n", Files.readString(rw.resolve("out.txt")));
        List<String> loaded = Files.readAllLines(rw.resolve("lsmod.txt"));
        List<String> notLoaded = new ArrayList<>();
        for (GuestKernel.ModulePlan.Module m : guest.modulePlan().load()) {
            if (!loaded.contains(m.name())) {
                notLoaded.add(m.name());
            }
        }
        assertEquals(List.of(), notLoaded, () -> "modules that did not load; console:\n" + r.consoleTail(80));
        assertTrue(r.scriptStartUptime() > 0 && r.scriptStartUptime() < 20, "guest uptime at script start: " + r.scriptStartUptime());
        System.out.println("harness guest: " + r.wallTime().toMillis() + " ms wall, script started at guest uptime " + r.scriptStartUptime() + " s");
    }

    @Test
    void aHangingScriptIsKilledAtTheTimeout(@TempDir Path dir) {
        GuestResult r = LinuxGuest.builder().timeout(Duration.ofSeconds(8)).keepLogsIn(dir).run("echo sleeping; sleep 600");
        assertTrue(r.timedOut(), r::describe);
        assertEquals(-1, r.exitStatus());
        assertTrue(r.wallTime().toSeconds() < 20, "killed promptly: " + r.wallTime());
        assertTrue(r.scriptOutput().contains("sleeping"), r::describe);
        assertTrue(r.describe().contains("timed out") && r.describe().contains("sleeping"), "the diagnosis shows the console's tail");
    }

    @Test
    void qemuErrorsAreReported(@TempDir Path dir) {
        Path missing = dir.resolve("no-such.sock");
        GuestResult r = LinuxGuest.builder().vhostUserBlk("blk0", missing, 1).keepLogsIn(dir).timeout(Duration.ofSeconds(30)).run("true");
        assertEquals(-1, r.exitStatus());
        assertFalse(r.timedOut());
        assertTrue(r.qemuOutput().contains(missing.toString()), r::describe);
        assertTrue(r.describe().contains(missing.toString()));
    }

    /**
     * What the VFIO work needs: an emulated IOMMU, a modern virtio-blk behind it, and vfio-pci
     * taking the device over ({@code /dev/vfio/GROUP} appears).
     */
    @Test
    void intelIommuAndVfioPciBinding(@TempDir Path dir) throws Exception {
        Path image = dir.resolve("vfio.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(16L << 20);
        }
        GuestResult r = LinuxGuest.builder()
                .intelIommu()
                .virtioBlk("vb0", image, "disable-legacy=on,iommu_platform=on")
                .keepLogsIn(dir.resolve("logs"))
                .timeout(Duration.ofSeconds(60))
                .run("""
                        ls /sys/class/iommu | grep -q . || fail "no IOMMU in /sys/class/iommu"
                        bdf=$(pci_of vb0) || exit 1
                        dev=$(blk_of vb0) || exit 1
                        echo "vb0 at $bdf is /dev/$dev before the switch"
                        group=$(basename "$(readlink /sys/bus/pci/devices/$bdf/iommu_group)")
                        [ -n "$group" ] || fail "$bdf has no IOMMU group"
                        echo "$bdf" > /sys/bus/pci/devices/$bdf/driver/unbind
                        echo vfio-pci > /sys/bus/pci/devices/$bdf/driver_override
                        echo "$bdf" > /sys/bus/pci/drivers_probe
                        expect_eq "driver of $bdf" "$(basename "$(readlink /sys/bus/pci/devices/$bdf/driver)")" vfio-pci
                        wait_for /dev/vfio/$group 5
                        echo "ok: /dev/vfio/$group"
                        """);
        r.requireSuccess();
        System.out.println("intel-iommu + vfio-pci guest: " + r.wallTime().toMillis() + " ms wall\n" + r.scriptOutput());
    }

    @Test
    void modulesLoadAfterTheirDependencies() {
        GuestKernel kernel = GuestKernel.find().orElseThrow();
        GuestKernel.ModulePlan plan = kernel.plan(List.of("sd_mod", "vfio-pci", "no_such_module"));
        List<String> names = plan.load().stream().map(GuestKernel.ModulePlan.Module::name).toList();
        assertTrue(names.containsAll(List.of("scsi_common", "scsi_mod", "t10_pi", "sd_mod", "vfio", "vfio_pci_core", "vfio_pci")), names::toString);
        for (int i = 0; i < names.size(); i++) {
            for (String dep : kernel.dependencies(names.get(i))) {
                int at = names.indexOf(dep);
                assertTrue(at >= 0 && at < i || plan.builtin().contains(dep), dep + " must load before " + names.get(i) + ": " + names);
            }
        }
        assertEquals(List.of("no_such_module"), plan.missing());
    }
}
