package io.jvirtio.tools;

import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.testkit.QemuStorageDaemon;
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
 * {@code jvirtio perf}: bdevperf's measurement on one thread and one request queue, against a
 * vhost-user-blk socket or a qemu-storage-daemon it starts itself. Several queue depths
 * ({@code -q 1,32}) run one after the other on the same attachment.
 */
final class PerfCommand {
    static final String USAGE = """
            usage: jvirtio perf (--socket PATH [--target-pid PID] | --qsd-null SIZE | --qsd-file IMAGE)
                                [-q DEPTH[,DEPTH...]] [-o IO_SIZE] [-w WORKLOAD] [-M RWMIXREAD] [-t SECONDS]
                                [--vq-size N] [--hugepages auto|require|never] [--output text|json]
              WORKLOAD: read, write, randread, randwrite, rw, randrw (default randread)
              defaults: -q 32 -o 4096 -t 5 -M 50 --vq-size 256
            """;

    private static final List<String> VALUE_OPTIONS = List.of("--socket", "--target-pid", "--qsd-null", "--qsd-file", "-q", "-o",
            "-w", "-M", "-t", "--vq-size", "--hugepages", "--output");

    private PerfCommand() {
    }

    static int run(String[] argv, PrintStream out, PrintStream err) {
        Args a = Args.parse(argv, VALUE_OPTIONS, List.of());
        Workload workload = Workload.parse(a.get("-w", "randread"));
        int ioSize = a.getInt("-o", 4096);
        int mix = a.getInt("-M", 50);
        if (mix > 100) {
            throw new Args.UsageException("-M " + mix + ": the read percentage must be 0..100");
        }
        long seconds = a.getLong("-t", 5);
        if (seconds < 1) {
            throw new Args.UsageException("-t " + seconds + ": run for at least 1 second");
        }
        List<Integer> depths = new ArrayList<>();
        for (String d : a.get("-q", "32").split(",")) {
            int q = (int) Args.parseSize("-q", d);
            if (q < 1) {
                throw new Args.UsageException("-q " + d + ": queue depth must be at least 1");
            }
            depths.add(q);
        }
        boolean json = switch (a.get("--output", "text")) {
            case "text" -> false;
            case "json" -> true;
            default -> throw new Args.UsageException("--output " + a.get("--output", "") + ": one of text, json");
        };
        int maxDepth = depths.stream().mapToInt(Integer::intValue).max().orElse(1);
        int vqSize = a.getInt("--vq-size", Math.max(256, Integer.highestOneBit(maxDepth * 2 - 1)));
        HugePagePolicy huge = switch (a.get("--hugepages", "auto")) {
            case "auto" -> HugePagePolicy.AUTO;
            case "require" -> HugePagePolicy.REQUIRE;
            case "never" -> HugePagePolicy.NEVER;
            default -> throw new Args.UsageException("--hugepages " + a.get("--hugepages", "") + ": one of auto, require, never");
        };
        VirtioBlkOptions options = VirtioBlkOptions.defaults().withQueueSize(vqSize).withChannelDepth(maxDepth).withHugePages(huge)
                .withMemoryBytes(Math.max(VirtioBlkOptions.DEFAULT_MEMORY_BYTES, 4L * maxDepth * ioSize));

        PrintStream progress = json ? err : out;
        try (Target target = openTarget(a); VirtioBlkDevice blk = target.attach("VirtioBlk0", options)) {
            progress.printf(Locale.ROOT, "attached %s over %s: %d blocks of %d bytes, queue size %d%n", blk.name(), target.socket(),
                    blk.blockCount(), blk.blockSize(), blk.device().queue(0).size());
            List<PerfReport.Run> runs = new ArrayList<>();
            for (int depth : depths) {
                PerfJob job = new PerfJob(blk, workload, depth, ioSize, mix, seconds * 1_000_000_000L, 42);
                progress.printf(Locale.ROOT, "running %s -q %d -o %d for %d s%n", workload.spdkName(), depth, ioSize, seconds);
                long jvm0 = ProcessCpu.nanos(ProcessCpu.self());
                long tgt0 = target.pid() > 0 ? ProcessCpu.nanos(target.pid()) : -1;
                PerfResult r = job.run(progress::println);
                long jvm = ProcessCpu.nanos(ProcessCpu.self()) - jvm0;
                long tgt = tgt0 >= 0 ? ProcessCpu.nanos(target.pid()) - tgt0 : -1;
                runs.add(new PerfReport.Run(r, jvm, tgt));
            }
            out.print(json ? PerfReport.json(runs) : PerfReport.table(runs));
            return runs.stream().anyMatch(r -> r.result().errors() > 0) ? 1 : 0;
        }
    }

    private static Target openTarget(Args a) {
        int given = (a.has("--socket") ? 1 : 0) + (a.has("--qsd-null") ? 1 : 0) + (a.has("--qsd-file") ? 1 : 0);
        if (given != 1) {
            throw new Args.UsageException("give exactly one of --socket, --qsd-null, --qsd-file\n" + USAGE);
        }
        if (a.has("--socket")) {
            Path socket = Path.of(a.get("--socket", ""));
            return Target.existing(socket, a.getLong("--target-pid", -1));
        }
        if (a.has("--qsd-null")) {
            return Target.start(QemuStorageDaemon.nullCo(a.getLong("--qsd-null", 0)));
        }
        Path image = Path.of(a.get("--qsd-file", ""));
        if (!Files.isRegularFile(image)) {
            throw new Args.UsageException("--qsd-file " + image + ": no such file");
        }
        return Target.start(QemuStorageDaemon.file(image));
    }
}
