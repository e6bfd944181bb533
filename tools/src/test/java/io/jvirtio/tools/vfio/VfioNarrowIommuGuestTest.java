package io.jvirtio.tools.vfio;

import io.jvirtio.testkit.guest.GuestResult;
import io.jvirtio.testkit.guest.HostJava;
import io.jvirtio.testkit.guest.LinuxGuest;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static io.jvirtio.tools.vfio.VfioNarrowIommuScenarios.IMAGE_BYTES;
import static io.jvirtio.tools.vfio.VfioNarrowIommuScenarios.SCENARIOS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

/**
 * IOVA = virtual address on a narrow IOMMU, in a Linux guest: QEMU's DEFAULT {@code intel-iommu}
 * (39-bit address width, IOVA ranges ending at {@code 0x7fffffffff}, where the JVM's own mmap
 * addresses near 2^47 are out of reach) with one virtio-blk-pci
 * ({@code iommu_platform=on,disable-legacy=on}) bound to vfio-pci. The guest JVM
 * ({@link VfioNarrowIommuScenarios}) shows a domain at the kernel's address is refused, attaches
 * with {@code VirtioBlkDevice.attachPci} (its memory placed inside the IOVA window), checks every
 * region is below 2^39, grows the domain and does I/O from the first and the grown region. The
 * host then checks the image byte for byte, and that the guest kernel logged no IOMMU fault.
 */
@RequiresLinuxGuest
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class VfioNarrowIommuGuestTest {
    private static final Duration GUEST_TIMEOUT = Duration.ofMinutes(2);
    private static final String BLK_ID = "vb0";
    private static final String BOUND_AT = "guest: bound at uptime ";
    private static final String JVM_EXIT = "guest: JVM exit status ";
    private static final String DMAR_FAULT = "guest: dmesg: ";
    private static final String WIDTH = "guest: iommu: ";

    /** The guest script: bind, show the IOMMU's width, run the scenarios' JVM, report faults. */
    static String script() {
        return String.format(Locale.ROOT, """
                t() { cut -d' ' -f1 /proc/uptime; }
                echo 8 > /proc/sys/vm/nr_hugepages
                group=$(vfio_bind %1$s) || exit 1
                echo "guest: %1$s $(pci_of %1$s) bound to vfio-pci, IOMMU group $group, hugepages $(cat /proc/sys/vm/nr_hugepages)"
                dmesg | grep -i -E 'address width|aw-bits|mgaw' | sed 's/^/%5$s/'
                echo "%2$s$(t)"
                host_java %3$s blk=$(pci_of %1$s)
                rc=$?
                echo "%4$s$rc at uptime $(t)"
                dmesg | grep -E 'DMAR: \\[DMA|DMAR:.*fault' | sed 's/^/%6$s/'
                echo "guest: $(dmesg | grep -c -E 'DMAR: \\[DMA|DMAR:.*fault') IOMMU fault line(s) in dmesg"
                exit $rc
                """, BLK_ID, BOUND_AT, VfioNarrowIommuScenarios.class.getName(), JVM_EXIT, WIDTH, DMAR_FAULT);
    }

    @TestFactory
    List<DynamicTest> narrowIommuInGuest(@TempDir Path dir) throws Exception {
        Path image = dir.resolve("narrow.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(IMAGE_BYTES);
        }
        LinuxGuest guest = LinuxGuest.builder()
                .modules(LinuxGuest.VFIO_MODULES)
                .intelIommu("intremap=on") // no aw-bits: QEMU's default 39-bit width is the point
                .memoryMiB(512)
                .virtioBlk(BLK_ID, image, "disable-legacy=on,iommu_platform=on")
                .hostJava(HostJava.current())
                .timeout(GUEST_TIMEOUT)
                .build();
        GuestResult r = guest.run(script());
        GuestLines lines = new GuestLines(r.scriptOutput(), SCENARIOS);
        System.out.println(String.format(Locale.ROOT, "narrow-IOMMU guest: %d ms wall (exit %d%s); bound at %.1f s, JVM main() at %.1f s, done at %.1f s",
                r.wallTime().toMillis(), r.exitStatus(), r.timedOut() ? ", TIMED OUT" : "", lines.number(BOUND_AT),
                lines.number(VfioNarrowIommuScenarios.START_MARKER), lines.number(VfioNarrowIommuScenarios.DONE_MARKER)));
        System.out.println("guest output:\n" + r.scriptOutput());

        List<DynamicTest> tests = new ArrayList<>();
        tests.add(dynamicTest("guest booted, bound the function and the JVM ran to its end", () -> {
            assertFalse(r.timedOut(), r::describe);
            assertEquals(List.of(), lines.strayFailures(), () -> "the guest script failed\n" + r.describe());
            assertTrue(lines.number(BOUND_AT) > 0, () -> "the script never bound the function\n" + r.describe());
            assertFalse(lines.withPrefix(VfioNarrowIommuScenarios.DONE_MARKER).isEmpty(), () -> "the guest JVM did not finish\n" + r.describe());
            assertTrue(r.exitStatus() == 0 || r.exitStatus() == 1, () -> "the guest JVM exited with " + r.exitStatus() + "\n" + r.describe());
        }));
        tests.add(dynamicTest("the device's regions were all below 2^39, two of them", () -> {
            List<String> regions = lines.withPrefix(VfioNarrowIommuScenarios.REGION_LINE);
            assertFalse(regions.isEmpty(), () -> "no region reported\n" + r.describe());
            long distinct = regions.stream().map(l -> l.split(" ")[2]).distinct().count();
            assertTrue(distinct >= 2, "the domain never grew: " + regions);
            for (String l : regions) {
                long address = Long.parseUnsignedLong(l.split(" ")[2].substring(2), 16);
                long length = Long.parseLong(l.split(" ")[3]);
                assertTrue(address + length <= VfioNarrowIommuScenarios.IOVA_LIMIT, l);
            }
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
        ImagePlan plan = VfioNarrowIommuScenarios.plan();
        for (String scenario : plan.scenarios()) {
            Optional<String> wrong = ImageCheck.scenario(image, plan, scenario);
            tests.add(dynamicTest("image holds what " + scenario + " wrote", () -> wrong.ifPresent(w -> fail(w))));
        }
        Optional<String> wrong = ImageCheck.whole(image, plan);
        tests.add(dynamicTest("image holds exactly that, zeros elsewhere", () -> wrong.ifPresent(w -> fail(w))));
        return tests;
    }
}
