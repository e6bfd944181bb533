package io.jvirtio.tools;

import io.jvirtio.core.LinkListener;
import io.jvirtio.core.ReconnectPolicy;
import io.jvirtio.core.VirtioDevice;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.config.BdevRegistry;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * {@code jvirtio perf}: bdevperf's measurement. One job per bdev per core, each on its own thread
 * and request queue; the bdevs come from an SPDK JSON config ({@code --json} / {@code -c}: vhost-user
 * sockets or virtio PCI functions bound to vfio-pci), a vhost-user-blk socket, or a qemu-storage-daemon
 * started for the run. Several queue depths ({@code -q 1,32})
 * run one after the other on the same attachment.
 */
final class PerfCommand {
    static final String USAGE = """
            usage: jvirtio perf (--json|-c CONFIG [-b BDEV] | --socket PATH [--target-pid PID] | --qsd-null SIZE | --qsd-file IMAGE)
                                [-q DEPTH[,DEPTH...]] [-o IO_SIZE] [-w WORKLOAD] [-M RWMIXREAD] [-t SECONDS]
                                [-m CORE_MASK | --cores N] [--vq-size N] [--hugepages auto|require|never] [--output text|json]
                                [--ctrlr-loss-timeout-sec N --reconnect-delay-sec N [--fast-io-fail-timeout-sec N]]
              WORKLOAD: read, write, randread, randwrite, rw, randrw, verify, unmap, flush, write_zeroes (default randread)
              CONFIG: an SPDK JSON config; trtype "user" (vhost-user socket) or "pci" (a virtio PCI function bound to
                vfio-pci, e.g. "traddr": "0000:00:05.0"; docs/vfio.md)
              -m 0x3 or --cores 2: one thread (and request queue) per core on each bdev; the config's vq_count must allow it
                (trtype pci: the device's own queue count)
              defaults: -q 32 -o 4096 -t 5 -M 50 --cores 1 --vq-size 256 (--vq-size applies to --socket/--qsd-*)
              reconnect (SPDK's bdev_nvme terms; --socket/--qsd-*; in a --json config: the controller's params):
                --ctrlr-loss-timeout-sec 0 never reconnects (default), -1 for ever; --reconnect-delay-sec the longest
                pause between attempts; --fast-io-fail-timeout-sec how long I/O waits before it fails (0: until given up)
            """;

    private static final List<String> VALUE_OPTIONS = List.of("--json", "-b", "--socket", "--target-pid", "--qsd-null", "--qsd-file",
            "-q", "-o", "-w", "-M", "-t", "-m", "--cores", "--vq-size", "--hugepages", "--output",
            "--ctrlr-loss-timeout-sec", "--reconnect-delay-sec", "--fast-io-fail-timeout-sec");
    private static final List<String> RECONNECT_OPTIONS = List.of("--ctrlr-loss-timeout-sec", "--reconnect-delay-sec",
            "--fast-io-fail-timeout-sec");

    private PerfCommand() {
    }

    static int run(String[] argv, PrintStream out, PrintStream err) throws Exception {
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
        List<Integer> depths = parseDepths(a.get("-q", "32"));
        int cores = parseCores(a);
        boolean json = switch (a.get("--output", "text")) {
            case "text" -> false;
            case "json" -> true;
            default -> throw new Args.UsageException("--output " + a.get("--output", "") + ": one of text, json");
        };
        PrintStream progress = json ? err : out;
        try (Bdevs bdevs = Bdevs.open(a, depths.stream().mapToInt(Integer::intValue).max().orElse(1), ioSize)) {
            long t0 = System.nanoTime();
            for (VirtioDevice d : bdevs.devices()) {
                d.addLinkListener(new ProgressLinkListener(progress, t0));
            }
            for (Bdev b : bdevs.list) {
                progress.printf(Locale.ROOT, "bdev %s: %d blocks of %d bytes, %d channel(s)%n", b.name(), b.blockCount(), b.blockSize(),
                        b.maxChannels());
                if (b.maxChannels() < cores) {
                    throw new Args.UsageException("--cores " + cores + ": bdev " + b.name() + " has only " + b.maxChannels()
                            + " request queue(s); " + moreQueuesHint(bdevs.deviceOf(b), cores));
                }
            }
            List<PerfReport.Run> runs = new ArrayList<>();
            for (int depth : depths) {
                progress.printf(Locale.ROOT, "running %s -q %d -o %d for %d s on %d core(s)%n", workload.spdkName(), depth, ioSize,
                        seconds, cores);
                runs.addAll(runJobs(bdevs, workload, depth, ioSize, mix, seconds, cores, progress));
            }
            out.print(json ? PerfReport.json(runs) : PerfReport.table(runs));
            for (PerfReport.Run r : runs) {
                if (r.result().errors() > 0) {
                    err.printf(Locale.ROOT, "perf: %s -q %d: %d I/Os failed; the first: %s%n", r.result().bdev(), r.result().queueDepth(),
                            r.result().errors(), r.result().firstError());
                }
            }
            return runs.stream().anyMatch(r -> r.result().errors() > 0 || r.result().firstError() != null) ? 1 : 0;
        }
    }

    /** How to get more request queues: vq_count for vhost-user, the device itself for PCI (SPDK takes all its queues). */
    static String moreQueuesHint(VirtioDevice device, int cores) {
        Object trtype = device == null ? null : device.backend().writeJsonConfig().get("trtype");
        if ("pci".equals(trtype)) {
            return "the PCI device has no more (trtype pci uses all of them); give it " + cores
                    + " or more (QEMU: num-queues=" + cores + ")";
        }
        return "attach it with vq_count >= " + cores;
    }

    /** Runs every (bdev, core) job at once; returns one aggregated run per bdev. */
    private static List<PerfReport.Run> runJobs(Bdevs bdevs, Workload workload, int depth, int ioSize, int mix, long seconds, int cores,
                                                PrintStream progress) throws InterruptedException {
        int jobs = bdevs.list.size() * cores;
        ExecutorService pool = Executors.newFixedThreadPool(jobs);
        long jvm0 = ProcessCpu.nanos(ProcessCpu.self());
        long tgt0 = bdevs.targetPid > 0 ? ProcessCpu.nanos(bdevs.targetPid) : -1;
        Map<String, List<Future<PerfResult>>> byBdev = new LinkedHashMap<>();
        try {
            int seed = 0;
            for (Bdev bdev : bdevs.list) {
                List<Future<PerfResult>> fs = new ArrayList<>();
                for (int c = 0; c < cores; c++) {
                    PerfJob job = new PerfJob(bdev, workload, depth, ioSize, mix, seconds * 1_000_000_000L, 42 + seed++, c, cores);
                    boolean reports = byBdev.isEmpty() && c == 0; // one live progress line: the first job's
                    fs.add(pool.submit(() -> job.run(reports ? progress::println : null)));
                }
                byBdev.put(bdev.name(), fs);
            }
            List<PerfReport.Run> runs = new ArrayList<>();
            List<List<PerfResult>> results = new ArrayList<>();
            for (List<Future<PerfResult>> fs : byBdev.values()) {
                List<PerfResult> rs = new ArrayList<>();
                for (Future<PerfResult> f : fs) {
                    rs.add(get(f));
                }
                results.add(rs);
            }
            long jvm = ProcessCpu.nanos(ProcessCpu.self()) - jvm0;
            long tgt = tgt0 >= 0 ? ProcessCpu.nanos(bdevs.targetPid) - tgt0 : -1;
            for (List<PerfResult> rs : results) {
                runs.add(new PerfReport.Run(PerfResult.merge(rs), jvm, tgt));
            }
            return runs;
        } finally {
            pool.shutdownNow();
        }
    }

    private static PerfResult get(Future<PerfResult> f) throws InterruptedException {
        try {
            return f.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    /** --ctrlr-loss-timeout-sec and friends, checked by SPDK's rules; errors name the options. */
    static ReconnectPolicy reconnectPolicy(Args a) {
        int loss = a.getInt("--ctrlr-loss-timeout-sec", 0);
        int delay = a.getInt("--reconnect-delay-sec", 0);
        int fast = a.getInt("--fast-io-fail-timeout-sec", 0);
        try {
            return new ReconnectPolicy(loss, delay, fast);
        } catch (IllegalArgumentException e) {
            String m = e.getMessage();
            for (String o : RECONNECT_OPTIONS) {
                m = m.replace(o.substring(2).replace('-', '_'), o);
            }
            throw new Args.UsageException(m);
        }
    }

    /** Prints a device's disconnect, reconnect and give-up among the progress lines, as they happen. */
    private record ProgressLinkListener(PrintStream out, long t0) implements LinkListener {
        @Override
        public void disconnected(String device, String reason) {
            out.printf(Locale.ROOT, "%6.1f s  %s: disconnected: %s%n", secs(), device, reason);
        }

        @Override
        public void reconnected(String device, long stallNanos) {
            out.printf(Locale.ROOT, "%6.1f s  %s: reconnected after %d ms; I/O resumed%n", secs(), device, stallNanos / 1_000_000);
        }

        @Override
        public void givenUp(String device, String reason) {
            out.printf(Locale.ROOT, "%6.1f s  %s: given up: %s%n", secs(), device, reason);
        }

        private double secs() {
            return (System.nanoTime() - t0) / 1e9;
        }
    }

    private static List<Integer> parseDepths(String spec) {
        List<Integer> depths = new ArrayList<>();
        for (String d : spec.split(",")) {
            int q = (int) Args.parseSize("-q", d);
            if (q < 1) {
                throw new Args.UsageException("-q " + d + ": queue depth must be at least 1");
            }
            depths.add(q);
        }
        return depths;
    }

    /** {@code -m 0x3} (SPDK's core mask: one thread per bit) or {@code --cores N}. */
    private static int parseCores(Args a) {
        if (a.has("-m") && a.has("--cores")) {
            throw new Args.UsageException("give -m or --cores, not both");
        }
        if (a.has("-m")) {
            String m = a.get("-m", "");
            try {
                long mask = m.startsWith("0x") || m.startsWith("0X") ? Long.parseUnsignedLong(m.substring(2), 16) : Long.parseLong(m);
                if (mask == 0) {
                    throw new Args.UsageException("-m " + m + ": the core mask selects no core");
                }
                return Long.bitCount(mask);
            } catch (NumberFormatException e) {
                throw new Args.UsageException("-m " + m + ": not a core mask (e.g. 0x3)");
            }
        }
        int cores = a.getInt("--cores", 1);
        if (cores < 1) {
            throw new Args.UsageException("--cores " + cores + ": at least 1");
        }
        return cores;
    }

    /** The bdevs a run measures and what must be closed after it. */
    private static final class Bdevs implements AutoCloseable {
        final List<Bdev> list = new ArrayList<>();
        long targetPid = -1;
        private final List<AutoCloseable> closeables = new ArrayList<>();

        static Bdevs open(Args a, int maxDepth, int ioSize) throws Exception {
            Bdevs b = new Bdevs();
            try {
                b.attach(a, maxDepth, ioSize);
            } catch (Exception | Error e) {
                b.close();
                throw e;
            }
            return b;
        }

        private void attach(Args a, int maxDepth, int ioSize) {
            int given = (a.has("--json") ? 1 : 0) + (a.has("--socket") ? 1 : 0) + (a.has("--qsd-null") ? 1 : 0) + (a.has("--qsd-file") ? 1 : 0);
            if (given != 1) {
                throw new Args.UsageException("give exactly one of --json, --socket, --qsd-null, --qsd-file\n" + USAGE);
            }
            targetPid = a.getLong("--target-pid", -1);
            if (a.has("--json")) {
                for (String o : RECONNECT_OPTIONS) {
                    if (a.has(o)) {
                        throw new Args.UsageException(o + ": with --json the reconnect policy is the controller's params in the config ("
                                + o.substring(2).replace('-', '_') + " of bdev_virtio_attach_controller)");
                    }
                }
                Path config = Path.of(a.get("--json", ""));
                BdevRegistry registry = new BdevRegistry();
                closeables.add(registry);
                registry.load(config);
                if (a.has("-b")) {
                    list.add(registry.findBdev(a.get("-b", "")).orElseThrow(() -> new Args.UsageException("-b " + a.get("-b", "")
                            + ": no such bdev in " + config + " (bdevs: " + registry.bdevs().stream().map(Bdev::name).toList() + ")")));
                } else {
                    list.addAll(registry.bdevs());
                }
                if (list.isEmpty()) {
                    throw new Args.UsageException("--json " + config + ": the config attaches no bdev");
                }
                return;
            }
            Target target;
            if (a.has("--socket")) {
                target = Target.existing(Path.of(a.get("--socket", "")), targetPid);
            } else if (a.has("--qsd-null")) {
                target = Target.start(QemuStorageDaemon.nullCo(a.getLong("--qsd-null", 0)));
            } else {
                Path image = Path.of(a.get("--qsd-file", ""));
                if (!Files.isRegularFile(image)) {
                    throw new Args.UsageException("--qsd-file " + image + ": no such file");
                }
                target = Target.start(QemuStorageDaemon.file(image));
            }
            closeables.add(target);
            targetPid = target.pid();
            HugePagePolicy huge = switch (a.get("--hugepages", "auto")) {
                case "auto" -> HugePagePolicy.AUTO;
                case "require" -> HugePagePolicy.REQUIRE;
                case "never" -> HugePagePolicy.NEVER;
                default -> throw new Args.UsageException("--hugepages " + a.get("--hugepages", "") + ": one of auto, require, never");
            };
            int vqSize = a.getInt("--vq-size", Math.max(256, Integer.highestOneBit(maxDepth * 2 - 1)));
            VirtioBlkOptions options = VirtioBlkOptions.defaults().withQueueSize(vqSize).withChannelDepth(maxDepth).withHugePages(huge)
                    .withMemoryBytes(Math.max(VirtioBlkOptions.DEFAULT_MEMORY_BYTES, 4L * maxDepth * ioSize))
                    .withReconnect(reconnectPolicy(a));
            VirtioBlkDevice blk = target.attach("VirtioBlk0", options);
            closeables.add(blk);
            list.add(blk);
        }

        /** @return the virtio device behind {@code b}, or null for a bdev of another kind */
        VirtioDevice deviceOf(Bdev b) {
            if (b instanceof VirtioBlkDevice blk) {
                return blk.device();
            }
            if (b instanceof io.jvirtio.scsi.VirtioScsiDisk disk) {
                return disk.controller().device();
            }
            return null;
        }

        /** @return the virtio devices behind the bdevs, each once */
        List<VirtioDevice> devices() {
            java.util.LinkedHashSet<VirtioDevice> ds = new java.util.LinkedHashSet<>();
            for (Bdev b : list) {
                VirtioDevice d = deviceOf(b);
                if (d != null) {
                    ds.add(d);
                }
            }
            return new ArrayList<>(ds);
        }

        @Override
        public void close() {
            for (int i = closeables.size() - 1; i >= 0; i--) {
                try {
                    closeables.get(i).close();
                } catch (Exception e) {
                    // closing what was opened: the first error already went to the user
                }
            }
        }
    }
}
