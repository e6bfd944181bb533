package io.jvirtio.tools.vfio;

import io.jvirtio.testkit.guest.GuestResult;
import io.jvirtio.testkit.guest.HostJava;
import io.jvirtio.testkit.guest.LinuxGuest;
import io.jvirtio.testkit.guest.ScsiDisk;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static io.jvirtio.tools.vfio.VfioGuestPlan.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

/**
 * jvirtio's virtio-pci transport over real kernel VFIO (issue 12, "Proof in CI"), in a Linux guest:
 * QEMU TCG with an emulated {@code intel-iommu} (48-bit address width, so IOVA = virtual address
 * works), a virtio-blk-pci (2 queues) and a virtio-scsi-pci (2 request queues; LUN 0 with 512-byte
 * and LUN 1 with 4096-byte blocks), both {@code iommu_platform=on,disable-legacy=on} on image files,
 * a second blk function behind a {@code pcie-root-port} (PCI Express, with function-level reset) for
 * the JSON-config scenarios, one left on virtio-pci, a legacy-only one and one without
 * {@code iommu_platform} (both bound to vfio-pci, both must be refused). The guest script
 * binds three functions to vfio-pci and starts ONE JVM (the host's JDK and this build's class path,
 * {@code host_java}) running {@link VfioGuestScenarios}; each scenario it reports becomes a dynamic
 * test here, a scenario that never reports fails. After the guest powered off, the image files must
 * hold byte for byte what the scenarios wrote ({@link ImagePlan}), zeros where they discarded or
 * wrote zeroes, and zeros everywhere else.
 *
 * <p>One guest boot per class (under TCG: boot ~3 s, JVM start ~10 s).
 */
@RequiresLinuxGuest
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class VfioGuestTest {
    private static final Duration GUEST_TIMEOUT = Duration.ofMinutes(4);
    private static final String BOUND_AT = "guest: bound at uptime ";
    private static final String JVM_EXIT = "guest: JVM exit status ";
    /** Prefix of the guest kernel's IOMMU fault lines (a DMA to an address jvirtio did not map). */
    private static final String DMAR_FAULT = "guest: dmesg: ";

    /** The guest script: bind, report, run the scenarios' JVM, report its exit. */
    static String script() {
        return String.format(Locale.ROOT, """
                t() { cut -d' ' -f1 /proc/uptime; }
                echo "guest: script at uptime $(t)"
                echo 160 > /proc/sys/vm/nr_hugepages
                for id in %1$s %2$s %3$s %8$s %9$s; do
                  group=$(vfio_bind $id) || exit 1
                  echo "guest: $id $(pci_of $id) bound to vfio-pci, IOMMU group $group"
                done
                echo "guest: %4$s $(pci_of %4$s) stays on $(driver_of %4$s)"
                echo "guest: hugepages $(cat /proc/sys/vm/nr_hugepages)"
                echo "%5$s$(t)"
                host_java %6$s blk=$(pci_of %1$s) scsi=$(pci_of %2$s) perf=$(pci_of %3$s) unbound=$(pci_of %4$s) \\
                    legacy=$(pci_of %8$s) noap=$(pci_of %9$s)
                rc=$?
                echo "%7$s$rc at uptime $(t)"
                dmesg | grep -E 'DMAR: \\[DMA|DMAR:.*fault' | sed 's/^/%10$s/'
                echo "guest: $(dmesg | grep -c -E 'DMAR: \\[DMA|DMAR:.*fault') IOMMU fault line(s) in dmesg"
                exit $rc
                """, BLK_ID, SCSI_ID, PERF_ID, UNBOUND_ID, BOUND_AT, VfioGuestScenarios.class.getName(), JVM_EXIT,
                LEGACY_ID, NO_ACCESS_PLATFORM_ID, DMAR_FAULT);
    }

    private static Path image(Path dir, String name, long size) throws IOException {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
        }
        return p;
    }

    @TestFactory
    List<DynamicTest> vfioInGuest(@TempDir Path dir) throws Exception {
        Map<String, Path> images = Map.of("blk", image(dir, "blk.img", BLK_BYTES), "lun0", image(dir, "lun0.img", LUN_BYTES),
                "lun1", image(dir, "lun1.img", LUN_BYTES));
        Path perf = image(dir, "perf.img", PERF_BYTES);
        Path unbound = image(dir, "unbound.img", UNBOUND_BYTES);
        Path legacy = image(dir, "legacy.img", UNBOUND_BYTES);
        Path noAccessPlatform = image(dir, "noap.img", UNBOUND_BYTES);
        String vfioProps = "disable-legacy=on,iommu_platform=on";
        LinuxGuest guest = LinuxGuest.builder()
                .modules(LinuxGuest.VFIO_MODULES)
                .intelIommu("intremap=on,aw-bits=48")
                .memoryMiB(1024)
                .virtioBlk(BLK_ID, images.get("blk"), vfioProps + ",num-queues=" + BLK_QUEUES)
                .virtioScsi(SCSI_ID, SCSI_QUEUES, List.of(ScsiDisk.of(images.get("lun0"), 0, 0),
                        ScsiDisk.of(images.get("lun1"), 0, 1).with("logical_block_size=" + LUN1_BLOCK_SIZE + ",physical_block_size="
                                + LUN1_BLOCK_SIZE)), vfioProps)
                .virtioBlkOnRootPort(PERF_ID, perf, vfioProps)
                .virtioBlk(UNBOUND_ID, unbound, vfioProps)
                .virtioBlk(LEGACY_ID, legacy, "disable-legacy=off,disable-modern=on")
                .virtioBlk(NO_ACCESS_PLATFORM_ID, noAccessPlatform, "disable-legacy=on")
                .hostJava(HostJava.current())
                .timeout(GUEST_TIMEOUT)
                .build();
        GuestResult r = guest.run(script());
        GuestLines lines = new GuestLines(r.scriptOutput(), SCENARIOS);
        System.out.println(summary(r, lines));
        System.out.println("guest output:\n" + r.scriptOutput());

        List<DynamicTest> tests = new ArrayList<>();
        tests.add(dynamicTest("guest booted, bound the functions and the JVM ran to its end", () -> {
            assertFalse(r.timedOut(), r::describe);
            assertEquals(List.of(), lines.strayFailures(), () -> "the guest script failed\n" + r.describe());
            assertTrue(lines.number(BOUND_AT) > 0, () -> "the script never bound the functions\n" + r.describe());
            assertFalse(lines.withPrefix(VfioGuestScenarios.DONE_MARKER).isEmpty(), () -> "the guest JVM did not finish\n" + r.describe());
            assertTrue(r.exitStatus() == 0 || r.exitStatus() == 1, () -> "the guest JVM exited with " + r.exitStatus() + "\n" + r.describe());
        }));
        tests.add(dynamicTest("no IOMMU fault (DMAR) in the guest: every DMA went to mapped memory", () -> {
            assertTrue(r.scriptOutput().contains("IOMMU fault line(s) in dmesg"), () -> "the script did not check dmesg\n" + r.describe());
            assertEquals(List.of(), lines.withPrefix(DMAR_FAULT), "the guest kernel logged IOMMU faults");
        }));
        for (String scenario : SCENARIOS) {
            tests.add(dynamicTest(scenario, () -> {
                GuestLines.Outcome o = lines.outcome(scenario).orElseThrow(() -> new AssertionError(
                        "scenario " + scenario + " did not report (did the guest JVM die before it?)\n" + r.describe()));
                if (!o.ok()) {
                    fail(scenario + " failed in the guest: " + o.reason());
                }
            }));
        }
        // the images, read now (the temporary directory goes away with this method's scope)
        for (ImagePlan plan : VfioGuestPlan.images()) {
            Path file = images.get(plan.image());
            for (String scenario : plan.scenarios()) {
                Optional<String> wrong = ImageCheck.scenario(file, plan, scenario);
                tests.add(dynamicTest("image " + plan.image() + " holds what " + scenario + " wrote",
                        () -> wrong.ifPresent(w -> fail(w + guestOutcome(lines, scenario)))));
            }
            Optional<String> wrong = ImageCheck.whole(file, plan);
            tests.add(dynamicTest("image " + plan.image() + " holds exactly that, zeros elsewhere", () -> wrong.ifPresent(w -> fail(w))));
        }
        for (Path untouched : List.of(unbound, legacy, noAccessPlatform)) {
            Optional<String> touched = ImageCheck.allZero(untouched);
            tests.add(dynamicTest("image " + untouched.getFileName() + " of a refused function was not written", () -> touched.ifPresent(w -> fail(w))));
        }
        return tests;
    }

    private static String guestOutcome(GuestLines lines, String scenario) {
        return lines.outcome(scenario).map(o -> o.ok() ? " (the guest said ok)" : " (it failed in the guest: " + o.reason().lines().findFirst().orElse("") + ")")
                .orElse(" (it never reported)");
    }

    /** Times and the perf figure, for the report. */
    private static String summary(GuestResult r, GuestLines lines) {
        double jvmMain = lines.number(VfioGuestScenarios.START_MARKER);
        double jvmDone = lines.number(VfioGuestScenarios.DONE_MARKER);
        long ok = SCENARIOS.stream().filter(s -> lines.outcome(s).map(GuestLines.Outcome::ok).orElse(false)).count();
        return String.format(Locale.ROOT, "VFIO guest: %d ms wall (exit %d%s); script at uptime %.1f s, functions bound at %.1f s,"
                        + " JVM main() at %.1f s, scenarios done at %.1f s; %d/%d scenarios ok%s",
                r.wallTime().toMillis(), r.exitStatus(), r.timedOut() ? ", TIMED OUT" : "", r.scriptStartUptime(), lines.number(BOUND_AT),
                jvmMain, jvmDone, ok, SCENARIOS.size(),
                lines.withPrefix(JvirtioCommandScenarios.PERF_LINE).stream().map(l -> "\n" + l).findFirst().orElse(""));
    }
}
