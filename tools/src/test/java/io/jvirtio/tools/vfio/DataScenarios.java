package io.jvirtio.tools.vfio;

import io.jvirtio.blk.VirtioBlkChannel;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.scsi.VirtioScsiChannel;
import io.jvirtio.scsi.VirtioScsiController;
import io.jvirtio.scsi.VirtioScsiDisk;
import io.jvirtio.scsi.VirtioScsiOptions;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.jvirtio.tools.vfio.GuestCheckException.check;
import static io.jvirtio.tools.vfio.VfioGuestPlan.*;

/**
 * The data scenarios of {@link VfioGuestPlan} on a virtio-blk device and a virtio-scsi controller,
 * whatever transport they come over ({@link Devices}): in the guest over VFIO, on the host over
 * vhost-user to the Java target ({@link DataScenariosOverVhostUserTest}, which checks these bodies
 * in every build). Each writes its {@link ImagePlan} operations and reads them back.
 */
final class DataScenarios {
    /** Where the devices under test come from, and what the process shows of them. */
    interface Devices {
        /** @return the blk device under test, attached with {@code requestQueues} queues and {@link VfioGuestPlan#DEVICE_MEMORY} */
        default VirtioBlkDevice blk(String name, int requestQueues) {
            return blk(name, requestQueues, DEVICE_MEMORY, false);
        }

        /**
         * @param memoryBytes     the first region (and growth step) of the device's memory domain
         * @param barsThroughFile reach the BARs with pread/pwrite only (VFIO; ignored where there are no BARs)
         * @return the blk device under test
         */
        VirtioBlkDevice blk(String name, int requestQueues, long memoryBytes, boolean barsThroughFile);

        /** @return the scsi controller under test, attached with {@code options} */
        VirtioScsiController scsi(String name, VirtioScsiOptions options);

        /** @return what the process shows of the transport's DMA and BAR mappings; {@link ProcessView#NONE} where nothing */
        default ProcessView process() {
            return ProcessView.NONE;
        }
    }

    private final ScenarioRunner runner;
    private final Devices devices;
    private final String where;
    private VirtioBlkDevice blk;
    private VirtioScsiController scsi;

    /** @param where how the devices are reached, for the printed lines ({@code 0000:00:05.0}, a socket) */
    DataScenarios(ScenarioRunner runner, Devices devices, String where) {
        this.runner = runner;
        this.devices = devices;
        this.where = where;
    }

    /**
     * Runs every blk and scsi scenario in {@link VfioGuestPlan#SCENARIOS} order, closes what they attached,
     * then runs the {@link MemoryScenarios}.
     */
    void runAll() {
        runner.run(BLK_ATTACH, this::attachBlk);
        for (String s : List.of(BLK_PATTERNS, BLK_VECTORED, BLK_FLUSH, BLK_DISCARD, BLK_WRITE_ZEROES)) {
            runner.run(s, () -> onBlk(s));
        }
        runner.run(BLK_TWO_QUEUES, this::blkTwoQueues);
        runner.run(BLK_REATTACH, this::blkReattach);
        runner.run(SCSI_SCAN, this::scsiScan);
        runner.run(SCSI_LUN0, () -> onLun(0, SCSI_LUN0));
        runner.run(SCSI_LUN1, () -> onLun(1, SCSI_LUN1));
        runner.run(SCSI_TWO_QUEUES, this::scsiTwoQueues);
        close();
        new MemoryScenarios(runner, devices).runAll();
    }

    // ---------------------------------------------------------------- blk

    private void attachBlk() {
        blk = devices.blk("VfioBlk0", BLK_QUEUES);
        check(blk.blockSize() == 512, "block size " + blk.blockSize() + ", expected 512");
        check(blk.blockCount() * 512 == BLK_BYTES, "capacity " + blk.blockCount() + " blocks, expected " + BLK_BYTES / 512);
        check(blk.maxChannels() == BLK_QUEUES, "request queues " + blk.maxChannels() + ", expected " + BLK_QUEUES + " (num-queues on the device)");
        runner.out().println("blk: " + blk.name() + " at " + where + ": " + blk.blockCount() + " blocks, " + blk.maxChannels()
                + " queues, " + blk.supportedIoTypes());
    }

    private void onBlk(String scenario) {
        runner.requireAttached(blk, BLK_ATTACH);
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
        runner.requireAttached(blk, BLK_ATTACH);
        List<ImagePlan.Op> ops = VfioGuestPlan.blk().of(BLK_TWO_QUEUES);
        List<List<ImagePlan.Op>> perThread = new ArrayList<>();
        for (int t = 0; t < BLK_QUEUES; t++) {
            long[] range = twoQueuesRange(t);
            perThread.add(ops.stream().filter(op -> op.offset() >= range[0] && op.offset() < range[1]).toList());
        }
        inParallel(perThread.size(), (t, allOpen) -> {
            try (VirtioBlkChannel ch = blk.openChannel()) {
                allOpen.run();
                new PlanExecutor(blk, ch).run(perThread.get(t));
                return ch.queue().index();
            }
        });
    }

    /** Closing releases the device: a second attach in the same JVM works and sees what the first wrote. */
    private void blkReattach() {
        runner.requireAttached(blk, BLK_ATTACH);
        blk.close();
        blk = null;
        try (VirtioBlkDevice again = devices.blk("VfioBlk0again", 1); VirtioBlkChannel ch = again.openChannel()) {
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
        scsi = devices.scsi("VfioScsi0", options);
        List<String> found = scsi.bdevs().stream().map(d -> d.name() + "(lun " + d.lun() + ", " + d.blockSize() + " B x " + d.blockCount() + ")").toList();
        runner.out().println("scsi: " + scsi.name() + " at " + where + ": " + found);
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
        runner.requireAttached(scsi, SCSI_SCAN);
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
        inParallel(disks.length, (t, allOpen) -> {
            VirtioScsiDisk disk = disks[t];
            try (VirtioScsiChannel ch = disk.openChannel()) {
                allOpen.run();
                new PlanExecutor(disk, ch).run(VfioGuestPlan.lun(disk.lun(), disk.blockSize()).of(SCSI_TWO_QUEUES));
                return ch.queueIndex();
            }
        });
    }

    // ---------------------------------------------------------------- threads

    /** One thread's part: open a channel, call {@code allOpen}, do the work on it; return its request queue. */
    private interface Part {
        int run(int thread, Runnable allOpen) throws Exception;
    }

    /**
     * Runs {@code n} threads that each open a channel, wait until all have theirs open (so the
     * channels hold their request queues at the same time), then do their work on it.
     *
     * @throws GuestCheckException when two threads got the same request queue
     */
    private static void inParallel(int n, Part part) throws Exception {
        CyclicBarrier barrier = new CyclicBarrier(n);
        Runnable allOpen = () -> {
            try {
                barrier.await(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new IllegalStateException("the other threads did not open their channels", e);
            }
        };
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<Integer>> queues = new ArrayList<>();
            for (int t = 0; t < n; t++) {
                int thread = t;
                queues.add(pool.submit(() -> part.run(thread, allOpen)));
            }
            List<Integer> used = new ArrayList<>();
            for (Future<Integer> f : queues) {
                used.add(f.get(60, TimeUnit.SECONDS));
            }
            check(used.stream().distinct().count() == n, "the threads shared request queues: " + used);
        } finally {
            pool.shutdownNow();
        }
    }

    /** Closes what the scenarios left attached. */
    void close() {
        for (AutoCloseable c : new AutoCloseable[] {blk, scsi}) {
            if (c != null) {
                try {
                    c.close();
                } catch (Exception e) {
                    runner.out().println("close failed: " + ScenarioRunner.oneLine(e));
                }
            }
        }
        blk = null;
        scsi = null;
    }
}
