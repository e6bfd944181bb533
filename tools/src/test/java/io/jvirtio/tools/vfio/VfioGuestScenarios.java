package io.jvirtio.tools.vfio;

import io.jvirtio.blk.VirtioBlkChannel;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.pci.PciAddress;
import io.jvirtio.core.pci.VirtioPciOptions;
import io.jvirtio.core.vfio.VfioAttach;
import io.jvirtio.core.vfio.VfioOptions;
import io.jvirtio.scsi.VirtioScsiChannel;
import io.jvirtio.scsi.VirtioScsiController;
import io.jvirtio.scsi.VirtioScsiDisk;
import io.jvirtio.scsi.VirtioScsiOptions;
import io.jvirtio.spec.VirtioException;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.jvirtio.tools.vfio.GuestCheckException.check;
import static io.jvirtio.tools.vfio.VfioGuestPlan.*;

/**
 * The guest half of {@link VfioGuestTest}: runs in the one JVM of the guest (the host's JDK and
 * class path through {@code host_java}), attaches the functions the script bound to vfio-pci through
 * the public API and runs every scenario of {@link VfioGuestPlan#SCENARIOS} in order, printing
 * {@code ok: NAME (MS ms)} or {@code FAIL: NAME: REASON} (followed by {@code   | } lines with the
 * stack trace) for each. A scenario that needs a device another scenario failed to attach fails
 * with that reason. Exits 0 when all passed, 1 otherwise.
 *
 * <p>Arguments: {@code blk=BDF scsi=BDF perf=BDF unbound=BDF} (from the script's {@code pci_of}).
 */
public final class VfioGuestScenarios {
    /** Printed before any scenario. */
    static final String START_MARKER = "guest-jvm: main() at uptime ";
    /** Printed after the last scenario. */
    static final String DONE_MARKER = "guest-jvm: done at uptime ";
    /** A scenario that takes longer fails and ends the JVM (the rest then count as not reported): one hang must not eat the guest's timeout. */
    static final long SCENARIO_TIMEOUT_SECONDS = 90;

    private final PrintStream out;
    private final PciAddress blkAddress;
    private final PciAddress scsiAddress;
    private final PciAddress perfAddress;
    private final PciAddress unboundAddress;
    private final Map<String, String> failures = new LinkedHashMap<>();
    private VirtioBlkDevice blk;
    private VirtioScsiController scsi;
    private volatile String running;
    private volatile long runningSince;

    private VfioGuestScenarios(PrintStream out, Map<String, String> args) {
        this.out = out;
        this.blkAddress = address(args, "blk");
        this.scsiAddress = address(args, "scsi");
        this.perfAddress = address(args, "perf");
        this.unboundAddress = address(args, "unbound");
    }

    /** @param args {@code blk=BDF scsi=BDF perf=BDF unbound=BDF} */
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
        VfioGuestScenarios s = new VfioGuestScenarios(System.out, a);
        s.startWatchdog();
        s.runAll();
        System.out.println(DONE_MARKER + uptime() + ", " + s.failures.size() + " scenario(s) failed");
        System.out.flush();
        System.exit(s.failures.isEmpty() ? 0 : 1);
    }

    private static PciAddress address(Map<String, String> args, String key) {
        String v = args.get(key);
        if (v == null) {
            throw new IllegalArgumentException("missing argument " + key + "=BDF");
        }
        return PciAddress.parse(v);
    }

    /** One scenario's body. */
    private interface Scenario {
        void run() throws Exception;
    }

    private void runAll() {
        run(HARNESS_DEVICES, () -> new HarnessCheck(out).run(List.of(blkAddress, scsiAddress, perfAddress), unboundAddress,
                PciAddress.parse(ABSENT_ADDRESS), perfAddress));
        run(HARNESS_MEMORY, this::memoryDomain);
        run(BLK_ATTACH, this::attachBlk);
        run(BLK_PATTERNS, () -> onBlk(BLK_PATTERNS));
        run(BLK_VECTORED, () -> onBlk(BLK_VECTORED));
        run(BLK_FLUSH, () -> onBlk(BLK_FLUSH));
        run(BLK_DISCARD, () -> onBlk(BLK_DISCARD));
        run(BLK_WRITE_ZEROES, () -> onBlk(BLK_WRITE_ZEROES));
        run(BLK_TWO_QUEUES, this::blkTwoQueues);
        run(BLK_REATTACH, this::blkReattach);
        run(SCSI_SCAN, this::scsiScan);
        run(SCSI_LUN0, () -> onLun(0, SCSI_LUN0));
        run(SCSI_LUN1, () -> onLun(1, SCSI_LUN1));
        run(SCSI_TWO_QUEUES, this::scsiTwoQueues);
        closeScsi();
        JvirtioCommandScenarios commands = new JvirtioCommandScenarios(out, perfAddress, scsiAddress, unboundAddress);
        run(JVIRTIO_BDEVS, commands::bdevs);
        run(JVIRTIO_PERF, commands::perfVerify);
        run(ERROR_UNBOUND, this::unboundFunction);
        run(ERROR_UNBOUND_CONFIG, commands::unboundInConfig);
        run(ERROR_ABSENT, () -> expectAttachFailure(PciAddress.parse(ABSENT_ADDRESS), VfioOptions.defaults(), ABSENT_ADDRESS));
        Path noVfio = Path.of("/nonexistent/dev-vfio");
        run(ERROR_NO_DEV_VFIO, () -> expectAttachFailure(perfAddress,
                new VfioOptions(noVfio, VfioOptions.defaults().sysfsPci(), VfioOptions.BarAccess.MAP_WHEN_POSSIBLE), noVfio.toString()));
    }

    /**
     * Fails the running scenario when it exceeds {@link #SCENARIO_TIMEOUT_SECONDS}: prints its FAIL
     * line and every thread's stack, then halts the JVM (a stuck device call cannot be interrupted).
     */
    private void startWatchdog() {
        Thread w = new Thread(() -> {
            while (true) {
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return;
                }
                String name = running;
                if (name != null && System.nanoTime() - runningSince > TimeUnit.SECONDS.toNanos(SCENARIO_TIMEOUT_SECONDS)) {
                    out.println("FAIL: " + name + ": did not finish within " + SCENARIO_TIMEOUT_SECONDS + " s; the JVM stops here");
                    Thread.getAllStackTraces().forEach((t, stack) -> {
                        out.println("  | thread " + t.getName());
                        for (StackTraceElement e : stack) {
                            out.println("  | \tat " + e);
                        }
                    });
                    out.flush();
                    Runtime.getRuntime().halt(3);
                }
            }
        }, "scenario-watchdog");
        w.setDaemon(true);
        w.start();
    }

    private void run(String name, Scenario scenario) {
        long t0 = System.nanoTime();
        runningSince = t0;
        running = name;
        try {
            scenario.run();
            running = null;
            out.println("ok: " + name + " (" + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + " ms)");
        } catch (Throwable t) {
            running = null;
            String reason = oneLine(t);
            failures.put(name, reason);
            out.println("FAIL: " + name + ": " + reason);
            if (!(t instanceof GuestCheckException)) {
                java.io.StringWriter w = new java.io.StringWriter();
                t.printStackTrace(new java.io.PrintWriter(w));
                w.toString().lines().limit(40).forEach(l -> out.println("  | " + l));
            }
        }
        out.flush();
    }

    static String oneLine(Throwable t) {
        String m = t instanceof GuestCheckException ? t.getMessage() : t.toString();
        return (m == null ? t.getClass().getName() : m).replace('\n', ' ');
    }

    /** The scenario cannot run because the one it depends on failed. */
    private void requireAttached(Object device, String scenario) {
        if (device == null) {
            throw new GuestCheckException("not run: " + scenario + " failed (" + failures.getOrDefault(scenario, "not attached") + ")");
        }
    }

    // ---------------------------------------------------------------- harness

    /** The JVM's FFM layer works in the guest: a memory domain (memfd, hugepages when reserved) is created and closed. */
    private void memoryDomain() {
        try (MemoryDomain m = MemoryDomain.create("harness", 4 * MIB, HugePagePolicy.AUTO)) {
            check(m.toString() != null, "memory domain");
        }
    }

    // ---------------------------------------------------------------- blk

    private static VirtioBlkDevice attachBlkAt(String name, PciAddress address, int queues) {
        VirtioBlkOptions options = VirtioBlkOptions.defaults().withRequestQueues(queues).withMemoryBytes(DEVICE_MEMORY);
        return VfioAttach.attach(name, address, options.memoryBytes(), options.hugePages(), VfioOptions.defaults(),
                VirtioPciOptions.defaults(), (ops, memory) -> VirtioBlkDevice.attach(name, ops, memory, true, options));
    }

    private void attachBlk() {
        blk = attachBlkAt("VfioBlk0", blkAddress, BLK_QUEUES);
        check(blk.blockSize() == 512, "block size " + blk.blockSize() + ", expected 512");
        check(blk.blockCount() * 512 == BLK_BYTES, "capacity " + blk.blockCount() + " blocks, expected " + BLK_BYTES / 512);
        check(blk.maxChannels() == BLK_QUEUES, "request queues " + blk.maxChannels() + ", expected " + BLK_QUEUES + " (num-queues on the device)");
        out.println("blk: " + blk + " at " + blkAddress + ": " + blk.blockCount() + " blocks, " + blk.maxChannels() + " queues, "
                + blk.supportedIoTypes());
    }

    private void onBlk(String scenario) {
        requireAttached(blk, BLK_ATTACH);
        try (VirtioBlkChannel ch = blk.openChannel()) {
            PlanExecutor ex = new PlanExecutor(blk, ch);
            ex.run(VfioGuestPlan.blk().of(scenario));
            if (scenario.equals(BLK_FLUSH)) {
                ex.io().flush();
            }
        }
    }

    /** Two threads, each with its own channel (request queue) open at the same time, each writing its own range. */
    private void blkTwoQueues() throws Exception {
        requireAttached(blk, BLK_ATTACH);
        List<ImagePlan.Op> ops = VfioGuestPlan.blk().of(BLK_TWO_QUEUES);
        CyclicBarrier bothOpen = new CyclicBarrier(BLK_QUEUES);
        ExecutorService pool = Executors.newFixedThreadPool(BLK_QUEUES);
        try {
            List<Future<Integer>> queues = new ArrayList<>();
            for (int t = 0; t < BLK_QUEUES; t++) {
                long[] range = twoQueuesRange(t);
                List<ImagePlan.Op> mine = ops.stream().filter(op -> op.offset() >= range[0] && op.offset() < range[1]).toList();
                queues.add(pool.submit(() -> {
                    try (VirtioBlkChannel ch = blk.openChannel()) {
                        bothOpen.await(30, TimeUnit.SECONDS);
                        new PlanExecutor(blk, ch).run(mine);
                        return ch.queue().index();
                    }
                }));
            }
            int q0 = queues.get(0).get(60, TimeUnit.SECONDS);
            int q1 = queues.get(1).get(60, TimeUnit.SECONDS);
            check(q0 != q1, "both threads used request queue " + q0);
        } finally {
            pool.shutdownNow();
        }
    }

    /** Closing releases the function: a second attach in the same JVM works and sees what the first wrote. */
    private void blkReattach() {
        requireAttached(blk, BLK_ATTACH);
        blk.close();
        blk = null;
        try (VirtioBlkDevice again = attachBlkAt("VfioBlk0again", blkAddress, 1); VirtioBlkChannel ch = again.openChannel()) {
            PlanExecutor ex = new PlanExecutor(again, ch);
            for (ImagePlan.Op op : VfioGuestPlan.blk().of(BLK_PATTERNS)) {
                ex.verify(op);
            }
        }
    }

    // ---------------------------------------------------------------- scsi

    private void scsiScan() {
        VirtioScsiOptions options = VirtioScsiOptions.defaults().withRequestQueues(SCSI_QUEUES).withScanTargets(1)
                .withMemoryBytes(DEVICE_MEMORY);
        scsi = VfioAttach.attach("VfioScsi0", scsiAddress, options.memoryBytes(), options.hugePages(), VfioOptions.defaults(),
                VirtioPciOptions.defaults(), (ops, memory) -> VirtioScsiController.attach("VfioScsi0", ops, memory, true, options));
        List<String> found = scsi.bdevs().stream().map(d -> d.name() + "(lun " + d.lun() + ", " + d.blockSize() + " B x " + d.blockCount() + ")").toList();
        out.println("scsi: " + scsi + " at " + scsiAddress + ": " + found);
        check(scsi.bdevs().size() == 2, "LUNs found: " + found + ", expected 2 (LUN 0 and 1 on target 0)");
        checkLun(0, 512);
        checkLun(1, LUN1_BLOCK_SIZE);
        check(scsi.ioQueueCount() == SCSI_QUEUES, "request queues " + scsi.ioQueueCount() + ", expected " + SCSI_QUEUES);
    }

    private void checkLun(int lun, int blockSize) {
        Optional<VirtioScsiDisk> d = scsi.disk(0, lun);
        check(d.isPresent(), "no bdev for target 0 LUN " + lun);
        check(d.get().blockSize() == blockSize, d.get().name() + ": block size " + d.get().blockSize() + ", expected " + blockSize);
        check(d.get().blockCount() * blockSize == LUN_BYTES, d.get().name() + ": " + d.get().blockCount() + " blocks, expected "
                + LUN_BYTES / blockSize);
    }

    private VirtioScsiDisk lun(int lun) {
        requireAttached(scsi, SCSI_SCAN);
        return scsi.disk(0, lun).orElseThrow(() -> new GuestCheckException("not run: LUN " + lun + " was not found by " + SCSI_SCAN));
    }

    private void onLun(int lun, String scenario) {
        VirtioScsiDisk disk = lun(lun);
        try (VirtioScsiChannel ch = disk.openChannel()) {
            new PlanExecutor(disk, ch).run(VfioGuestPlan.lun(lun, disk.blockSize()).of(scenario));
        }
    }

    /** One thread per LUN, both channels open at the same time, on different request queues. */
    private void scsiTwoQueues() throws Exception {
        VirtioScsiDisk[] disks = {lun(0), lun(1)};
        CyclicBarrier bothOpen = new CyclicBarrier(2);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<Integer>> queues = new ArrayList<>();
            for (VirtioScsiDisk disk : disks) {
                List<ImagePlan.Op> ops = VfioGuestPlan.lun(disk.lun(), disk.blockSize()).of(SCSI_TWO_QUEUES);
                queues.add(pool.submit(() -> {
                    try (VirtioScsiChannel ch = disk.openChannel()) {
                        bothOpen.await(30, TimeUnit.SECONDS);
                        new PlanExecutor(disk, ch).run(ops);
                        return ch.queueIndex();
                    }
                }));
            }
            int q0 = queues.get(0).get(60, TimeUnit.SECONDS);
            int q1 = queues.get(1).get(60, TimeUnit.SECONDS);
            check(q0 != q1, "both threads used request queue " + q0);
        } finally {
            pool.shutdownNow();
        }
    }

    private void closeScsi() {
        if (scsi != null) {
            try {
                scsi.close();
            } catch (RuntimeException e) {
                out.println("scsi: close failed: " + oneLine(e));
            }
            scsi = null;
        }
    }

    // ---------------------------------------------------------------- errors

    /** A function still on virtio-pci: the error names it, vfio-pci, and how to bind it. */
    private void unboundFunction() {
        String m = expectAttachFailure(unboundAddress, VfioOptions.defaults(), unboundAddress.toString(), "vfio-pci");
        check(m.contains("driver_override") || m.contains("bind"), "the error does not say how to bind the function: " + m);
    }

    /**
     * Attaching at {@code address} must fail with a {@link VirtioException} whose message holds every
     * one of {@code mustName}; the message is printed so the report can quote it.
     *
     * @return the message
     */
    private String expectAttachFailure(PciAddress address, VfioOptions vfio, String... mustName) {
        VirtioBlkDevice attached = null;
        try {
            attached = VfioAttach.attach("VfioErr", address, DEVICE_MEMORY, HugePagePolicy.AUTO, vfio, VirtioPciOptions.defaults(),
                    (ops, memory) -> VirtioBlkDevice.attach("VfioErr", ops, memory, true, VirtioBlkOptions.defaults()));
        } catch (VirtioException e) {
            out.println("error message: " + oneLine(e));
            for (String s : mustName) {
                check(e.getMessage() != null && e.getMessage().contains(s), "the error does not name " + s + ": " + oneLine(e));
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
