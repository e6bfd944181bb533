package io.jvirtio.tools.vfio;

import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.pci.PciAddress;
import io.jvirtio.core.pci.VirtioPciOptions;
import io.jvirtio.core.vfio.VfioOptions;
import io.jvirtio.scsi.VirtioScsiController;
import io.jvirtio.scsi.VirtioScsiOptions;
import io.jvirtio.spec.VirtioException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.jvirtio.tools.vfio.GuestCheckException.check;
import static io.jvirtio.tools.vfio.VfioGuestPlan.*;

/**
 * The guest half of {@link VfioGuestTest}: runs in the one JVM of the guest (the host's JDK and
 * class path through {@code host_java}) and runs every scenario of {@link VfioGuestPlan#SCENARIOS}
 * in order ({@link ScenarioRunner} prints an {@code ok:} or {@code FAIL:} line for each): the
 * harness self-check, the data scenarios ({@link DataScenarios}) on the functions the script bound
 * to vfio-pci, attached through the public API ({@code VirtioBlkDevice.attachPci},
 * {@code VirtioScsiController.attachPci}), the
 * {@code jvirtio} command on {@code trtype "pci"} configs ({@link JvirtioCommandScenarios}), and
 * the errors users meet. Exits 0 when all passed, 1 otherwise.
 *
 * <p>Arguments: {@code blk=BDF scsi=BDF perf=BDF unbound=BDF legacy=BDF noap=BDF} (from the script's
 * {@code pci_of}).
 */
public final class VfioGuestScenarios implements DataScenarios.Devices {
    /** Printed before any scenario. */
    static final String START_MARKER = "guest-jvm: main() at uptime ";
    /** Printed after the last scenario. */
    static final String DONE_MARKER = "guest-jvm: done at uptime ";
    /** A scenario that takes longer fails and ends the JVM (the rest then count as not reported). */
    static final long SCENARIO_TIMEOUT_SECONDS = 90;

    private final ScenarioRunner runner;
    private final PciAddress blkAddress;
    private final PciAddress scsiAddress;
    private final PciAddress perfAddress;
    private final PciAddress unboundAddress;
    private final PciAddress legacyAddress;
    private final PciAddress noAccessPlatformAddress;

    private VfioGuestScenarios(ScenarioRunner runner, Map<String, String> args) {
        this.runner = runner;
        this.blkAddress = address(args, "blk");
        this.scsiAddress = address(args, "scsi");
        this.perfAddress = address(args, "perf");
        this.unboundAddress = address(args, "unbound");
        this.legacyAddress = address(args, "legacy");
        this.noAccessPlatformAddress = address(args, "noap");
    }

    /** @param args {@code blk=BDF scsi=BDF perf=BDF unbound=BDF legacy=BDF noap=BDF} */
    public static void main(String[] args) {
        System.out.println(START_MARKER + uptime());
        Map<String, String> a = new LinkedHashMap<>();
        for (String arg : args) {
            int eq = arg.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("argument '" + arg + "' is not KEY=VALUE");
            }
            a.put(arg.substring(0, eq), arg.substring(eq + 1));
        }
        ScenarioRunner runner = new ScenarioRunner(System.out, SCENARIO_TIMEOUT_SECONDS);
        new VfioGuestScenarios(runner, a).runAll();
        System.out.println(DONE_MARKER + uptime() + ", " + runner.failures().size() + " scenario(s) failed");
        System.out.flush();
        System.exit(runner.failures().isEmpty() ? 0 : 1);
    }

    private static PciAddress address(Map<String, String> args, String key) {
        String v = args.get(key);
        if (v == null) {
            throw new IllegalArgumentException("missing argument " + key + "=BDF");
        }
        return PciAddress.parse(v);
    }

    private void runAll() {
        runner.run(HARNESS_DEVICES, () -> new HarnessCheck(runner.out()).run(List.of(blkAddress, scsiAddress, perfAddress,
                noAccessPlatformAddress), List.of(legacyAddress), unboundAddress, PciAddress.parse(ABSENT_ADDRESS), perfAddress));
        runner.run(HARNESS_MEMORY, VfioGuestScenarios::memoryDomain);
        new DataScenarios(runner, this, "blk " + blkAddress + ", scsi " + scsiAddress).runAll();
        JvirtioCommandScenarios commands = new JvirtioCommandScenarios(runner.out(), perfAddress, scsiAddress, unboundAddress);
        runner.run(JVIRTIO_BDEVS, commands::bdevs);
        runner.run(JVIRTIO_SAVE_CONFIG, commands::saveConfig);
        runner.run(JVIRTIO_PERF, commands::perfVerify);
        runner.run(ERROR_UNBOUND, this::unboundFunction);
        runner.run(ERROR_UNBOUND_CONFIG, commands::unboundInConfig);
        runner.run(ERROR_ABSENT, () -> expectAttachFailure(PciAddress.parse(ABSENT_ADDRESS), VfioOptions.defaults(), ABSENT_ADDRESS));
        Path noVfio = Path.of("/nonexistent/dev-vfio");
        runner.run(ERROR_NO_DEV_VFIO, () -> expectAttachFailure(perfAddress,
                new VfioOptions(noVfio, VfioOptions.defaults().sysfsPci(), VfioOptions.BarAccess.MAP_WHEN_POSSIBLE), noVfio.toString()));
        runner.run(ERROR_GROUP_FILE_MISSING, () -> expectAttachFailure(perfAddress, FakeVfioPaths.devVfioWithoutGroups(),
                perfAddress.toString(), "IOMMU group", "does not exist"));
        runner.run(ERROR_NO_IOMMU_GROUP, () -> expectAttachFailure(perfAddress, FakeVfioPaths.sysfsWithoutIommuGroup(perfAddress),
                perfAddress.toString(), "no IOMMU group", "intel_iommu=on"));
        runner.run(ERROR_GROUP_IN_USE, this::groupInUse);
        runner.run(ERROR_WRONG_TYPE, () -> expectAttachFailure(scsiAddress, VfioOptions.defaults(), scsiAddress.toString(), "scsi"));
        runner.run(ERROR_LEGACY, () -> expectAttachFailure(legacyAddress, VfioOptions.defaults(), legacyAddress.toString(), "legacy"));
        runner.run(ERROR_NO_ACCESS_PLATFORM, () -> expectAttachFailure(noAccessPlatformAddress, VfioOptions.defaults(),
                noAccessPlatformAddress.toString(), "ACCESS_PLATFORM"));
    }

    /** A second attach of a function this JVM holds: a clear "in use" error, and the first attach keeps working. */
    private void groupInUse() {
        try (VirtioBlkDevice first = attachBlk("VfioFirst", perfAddress, VfioOptions.defaults(), 1)) {
            expectAttachFailure(perfAddress, VfioOptions.defaults(), perfAddress.toString(), "in use");
            check(first.blockCount() * 512 == PERF_BYTES, "the first attach broke: " + first.blockCount() + " blocks");
            try (var ch = first.openChannel()) {
                new PlanExecutor(first, ch).read(0, 4096);
            }
        }
    }

    /** The JVM's FFM layer works in the guest: a memory domain (memfd, hugepages when reserved) is created and closed. */
    private static void memoryDomain() {
        try (MemoryDomain m = MemoryDomain.create("harness", 4 * MIB, HugePagePolicy.AUTO)) {
            check(m.toString() != null, "memory domain");
        }
    }

    // ---------------------------------------------------------------- the devices, over VFIO

    @Override
    public VirtioBlkDevice blk(String name, int requestQueues, long memoryBytes, boolean barsThroughFile) {
        VfioOptions vfio = barsThroughFile ? VfioOptions.defaults().withBarAccess(VfioOptions.BarAccess.FILE_ONLY) : VfioOptions.defaults();
        return attachBlk(name, blkAddress, vfio, requestQueues, memoryBytes);
    }

    /** VFIO pins, maps BARs and memfds: {@code /proc/self} shows each. */
    @Override
    public ProcessView process() {
        return new ProcSelf();
    }

    private static VirtioBlkDevice attachBlk(String name, PciAddress address, VfioOptions vfio, int requestQueues) {
        return attachBlk(name, address, vfio, requestQueues, DEVICE_MEMORY);
    }

    /** The public API: {@link VirtioBlkDevice#attachPci}. */
    private static VirtioBlkDevice attachBlk(String name, PciAddress address, VfioOptions vfio, int requestQueues, long memoryBytes) {
        VirtioBlkOptions options = VirtioBlkOptions.defaults().withRequestQueues(requestQueues).withMemoryBytes(memoryBytes);
        return VirtioBlkDevice.attachPci(name, address, options, vfio, VirtioPciOptions.defaults());
    }

    /** The public API: {@link VirtioScsiController#attachPci}. */
    @Override
    public VirtioScsiController scsi(String name, VirtioScsiOptions options) {
        return VirtioScsiController.attachPci(name, scsiAddress, options);
    }

    // ---------------------------------------------------------------- errors

    /** A function still on virtio-pci: the error names it, vfio-pci, and how to bind it. */
    private void unboundFunction() {
        String m = expectAttachFailure(unboundAddress, VfioOptions.defaults(), unboundAddress.toString(), "vfio-pci");
        check(m.contains("driver_override") || m.contains("bind"), "the error does not say how to bind the function: " + m);
    }

    /**
     * Attaching a blk device at {@code address} must fail with a {@link VirtioException} whose
     * message holds every one of {@code mustName}; the message is printed so the report can quote it.
     *
     * @return the message
     */
    private String expectAttachFailure(PciAddress address, VfioOptions vfio, String... mustName) {
        VirtioBlkDevice attached = null;
        try {
            attached = attachBlk("VfioErr", address, vfio, 1);
        } catch (VirtioException e) {
            runner.out().println("error message: " + ScenarioRunner.oneLine(e));
            for (String s : mustName) {
                check(e.getMessage() != null && e.getMessage().contains(s), "the error does not name " + s + ": " + ScenarioRunner.oneLine(e));
            }
            return e.getMessage();
        } finally {
            if (attached != null) {
                attached.close();
            }
        }
        throw new GuestCheckException("attach at " + address + " succeeded; expected a VirtioException naming " + List.of(mustName));
    }

    static double uptime() {
        try {
            return Double.parseDouble(Files.readString(Path.of("/proc/uptime")).split(" ")[0]);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
