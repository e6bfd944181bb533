package io.jvirtio.tools;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.config.BdevJson;
import io.jvirtio.config.BdevRegistry;
import io.jvirtio.config.SaveConfig;
import io.jvirtio.config.SpdkJson;
import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.scsi.ScsiLun;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import io.jvirtio.backend.scsi.VirtioScsiModel;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.tools.perf.JobRunner;
import io.jvirtio.backend.ring.CpuAffinity;
import io.jvirtio.backend.TargetOptions;
import io.jvirtio.tools.perf.PerfJob;
import io.jvirtio.tools.perf.PerfReport;
import io.jvirtio.tools.perf.PerfResult;
import io.jvirtio.tools.perf.ProcessCpu;
import io.jvirtio.tools.perf.Workload;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code jvirtio demo}, the README's main job, with nothing to install: the Java vhost-user target
 * runs in this process with a RAM virtio-blk device and a virtio-scsi controller with two LUNs
 * (512- and 4096-byte blocks); jvirtio attaches them through a generated SPDK-style JSON config,
 * verifies every bdev, measures random reads, and prints the bdevs, bdev_get_bdevs and save_config.
 */
final class EmbeddedDemo {
    private static final long MIB = 1 << 20;
    /** Half a second unmeasured before each job: the JIT compiles the I/O path first. */
    private static final long DEMO_WARMUP_NANOS = 500_000_000L;

    private EmbeddedDemo() {
    }

    static int run(long seconds, Cli cli) throws Exception {
        PrintStream out = cli.out();
        Path dir = Files.createTempDirectory("jvirtio-demo-");
        Path blkSock = dir.resolve("vhost.blk0");
        Path scsiSock = dir.resolve("vhost.scsi0");
        Path config = dir.resolve("bdev.json");
        out.println("== jvirtio demo (embedded Java vhost-user target) ==");
        RamBlockStore blkStore = new RamBlockStore(64 * MIB, false);
        RamBlockStore lun0 = new RamBlockStore(32 * MIB, false);
        RamBlockStore lun1 = new RamBlockStore(32 * MIB, false);
        // Two CPUs or more: the target's queue threads poll on CPU 0 and each job's thread runs on CPU 1, as
        // jvirtio perf is measured against a target on another core. One CPU: both sides take turns on it.
        boolean twoCores = CpuAffinity.allowedCpus().cardinality() >= 2;
        int targetCpu = CpuAffinity.allowedCpus().nextSetBit(0);
        int jobCpu = twoCores ? CpuAffinity.allowedCpus().nextSetBit(targetCpu + 1) : targetCpu;
        TargetOptions targetOptions = twoCores ? TargetOptions.builder().cpus(List.of(targetCpu)).build() : TargetOptions.builder().build();
        VirtioScsiModel scsi = new VirtioScsiModel(ScsiModelOptions.builder().name("scsi0").requestQueues(3).build());
        scsi.addLun(0, 0, ScsiLun.builder(lun0).blockSize(512).thinProvisioning(true).build());
        scsi.addLun(0, 1, ScsiLun.builder(lun1).blockSize(4096).thinProvisioning(true).build());
        try (VhostUserTarget blkTarget = VhostUserTarget.builder().name("blk0").socket(blkSock).options(targetOptions)
                .blk(blkStore, BlkModelOptions.builder().blockSize(512).numQueues(2).build()).closeOnExit(blkStore).start();
             VhostUserTarget scsiTarget = VhostUserTarget.builder().name("scsi0").socket(scsiSock).options(targetOptions).model(scsi)
                     .closeOnExit(lun0).closeOnExit(lun1).start()) {
            out.printf("target: virtio-blk (64 MiB RAM, 2 queues) on %s; virtio-scsi (target 0: LUN 0 32 MiB x 512 B, "
                    + "LUN 1 32 MiB x 4096 B) on %s%n", blkSock, scsiSock);
            Files.writeString(config, """
                    {
                      "subsystems": [
                        {
                          "subsystem": "bdev",
                          "config": [
                            {"method": "bdev_virtio_attach_controller",
                             "params": {"name": "VirtioBlk0", "trtype": "user", "traddr": "%s", "dev_type": "blk", "vq_count": 1, "vq_size": 128}},
                            {"method": "bdev_virtio_attach_controller",
                             "params": {"name": "VirtioScsi0", "trtype": "user", "traddr": "%s", "dev_type": "scsi", "vq_count": 1, "vq_size": 128}},
                            {"method": "bdev_wait_for_examine"}
                          ]
                        }
                      ]
                    }
                    """.formatted(blkSock, scsiSock));
            out.println("config: " + config);
            try (BdevRegistry registry = new BdevRegistry()) {
                registry.load(config);
                out.println();
                out.printf(Locale.ROOT, "%-16s %-18s %10s %12s %s%n", "bdev", "product", "block_size", "num_blocks", "io types");
                for (Bdev b : registry.bdevs()) {
                    out.printf(Locale.ROOT, "%-16s %-18s %10d %12d %s%n", b.name(), b.productName(), b.blockSize(), b.blockCount(),
                            b.supportedIoTypes());
                }
                out.println();
                out.println(CoreNote.describe(twoCores, targetCpu, jobCpu));
                out.println();
                List<PerfReport.Run> verify = measure(registry.bdevs(), Workload.VERIFY, new int[] {8}, 1, jobCpu, cli);
                out.print(PerfReport.table(verify, true));
                long miscompares = verify.stream().mapToLong(r -> r.result().miscompares() + r.result().errors()).sum();
                if (miscompares > 0) {
                    throw new IllegalStateException("verify found " + miscompares + " errors or miscompares");
                }
                out.println("verify: every block read back as written, on every bdev");
                out.println();
                out.print(PerfReport.table(measure(registry.bdevs(), Workload.RANDREAD, new int[] {1, 32}, seconds, jobCpu, cli), true));
                out.println();
                out.println("bdev_get_bdevs:");
                out.println(SpdkJson.format(BdevJson.bdevGetBdevs(registry)));
                out.println("save_config:");
                out.println(SpdkJson.format(SaveConfig.saveConfig(registry)));
            }
        } finally {
            Files.deleteIfExists(config);
            Files.deleteIfExists(blkSock);
            Files.deleteIfExists(scsiSock);
            Files.deleteIfExists(dir);
        }
        out.println("demo finished");
        return 0;
    }

    /**
     * One job at a time, each bdev at each depth in turn, as {@code jvirtio perf} runs one: a job's
     * thread has the initiator's core to itself (three jobs at once on two cores, with the target's
     * threads beside them, measured the scheduler rather than jvirtio). A job that fails does not hide
     * the others: the table of those that ran is printed, then the failure.
     */
    private static List<PerfReport.Run> measure(List<Bdev> bdevs, Workload w, int[] depths, long seconds, int jobCpu, Cli cli)
            throws Exception {
        PrintStream out = cli.out();
        out.printf(Locale.ROOT, "%s -q %s -o 4096, %d s per job, one job at a time on %d bdevs%n", w.spdkName(),
                java.util.Arrays.stream(depths).mapToObj(Integer::toString).collect(java.util.stream.Collectors.joining(" and -q ")),
                seconds, bdevs.size());
        List<PerfReport.Run> runs = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        Progress progress = cli.progress(out);
        int seed = 7;
        for (int depth : depths) {
            for (Bdev bdev : bdevs) {
                PerfJob job = new PerfJob(bdev, w, depth, 4096, 100, seconds * 1_000_000_000L, seed++);
                job.warmup(DEMO_WARMUP_NANOS);
                long wall0 = System.nanoTime();
                long cpu0 = ProcessCpu.nanos(ProcessCpu.self());
                JobRunner.Outcome o = JobRunner.run(List.of(job), List.of(jobCpu), true, progress::event, progress::update);
                long cpu = ProcessCpu.nanos(ProcessCpu.self()) - cpu0;
                long wall = System.nanoTime() - wall0;
                for (PerfResult r : o.mergedByBdev()) {
                    runs.add(new PerfReport.Run(r, cpu, -1, wall)); // the target runs in this JVM: its CPU is in the jvm figure
                }
                failures.addAll(o.failureLines());
            }
        }
        progress.done();
        if (!failures.isEmpty()) {
            out.print(PerfReport.table(runs, true));
            throw new IllegalStateException(String.join("; ", failures));
        }
        return runs;
    }
}
