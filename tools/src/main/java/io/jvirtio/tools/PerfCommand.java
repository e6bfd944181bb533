package io.jvirtio.tools;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.core.LinkListener;
import io.jvirtio.core.ReconnectPolicy;
import io.jvirtio.core.VirtioDevice;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.tools.perf.JobRunner;
import io.jvirtio.tools.perf.PerfJob;
import io.jvirtio.tools.perf.PerfReport;
import io.jvirtio.tools.perf.ProcessCpu;
import io.jvirtio.tools.perf.Workload;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code jvirtio perf}: bdevperf's measurement. One thread per core of the mask drives every job
 * placed on it ({@link CoreLayout}, {@link JobRunner}); a core's jobs on one controller share one
 * request queue; the bdevs come from an SPDK JSON config ({@code --json} / {@code -c}: vhost-user
 * sockets or virtio PCI functions bound to vfio-pci), a vhost-user-blk socket, or a qemu-storage-daemon
 * started for the run. Several queue depths ({@code -q 1,32}) run one after the other on the same
 * attachment. Every option is checked, and the request queues each controller must give are
 * counted, before anything runs; a job that fails never hides the others' results: the table is
 * printed, then the errors.
 */
@Command(name = "perf", sortOptions = false, description = {
        "bdevperf-like measurement of the bdevs an SPDK JSON config attaches, a vhost-user-blk socket, or a qemu-storage-daemon"
                + " started for the run. One polling thread per core of the mask drives the jobs placed on it; several -q depths run"
                + " one after another.",
        ""},
        footerHeading = "%nNotes:%n",
        footer = {"WORKLOAD: read, write, randread, randwrite, rw, randrw, verify, unmap, flush,",
                "  write_zeroes.",
                "CONFIG: an SPDK JSON config; trtype \"user\" (vhost-user socket) or \"pci\" (a",
                "  virtio PCI function bound to vfio-pci; see docs/vfio.md).",
                "Cores: as SPDK's reactors, one thread per core of the mask polls all the jobs",
                "  placed on it, round-robin, never sleeping. Bdevs are dealt round-robin over",
                "  the cores (bdev 0 on the first core, ...); -C puts every bdev on every core.",
                "  (Threads are not pinned to CPUs; the mask names them.)",
                "Request queues: a core's jobs on the LUNs of one controller share one of its",
                "  request queues, so a controller needs one per core its bdevs run on: its",
                "  vq_count (trtype pci: the device's own count). Counted before anything runs.",
                "cpu%%: the CPU time of the core thread, shared out among its jobs by their",
                "  share of the completions; a Total row sums a depth's rows.",
                "Reconnect options (SPDK's bdev_nvme terms) apply to --socket/--qsd-*; with",
                "  --json they are the controller's params in the config.",
                "Exit status: 0 ok, 1 a device or an I/O failed (the table is printed first),",
                "  2 a bad command line."})
final class PerfCommand implements Callable<Integer> {
    private final Cli cli;

    @Option(names = {"--json", "-c", "--config"}, paramLabel = "CONFIG", description = "Measure the bdevs this SPDK JSON config attaches.")
    Path config;
    @Option(names = "-b", paramLabel = "BDEV", description = "With --json: measure only this bdev.")
    String bdev;
    @Option(names = "--skip-unsupported", description = "With --json: skip config methods jvirtio does not have, with a warning.")
    boolean skipUnsupported;
    @Option(names = "--socket", paramLabel = "PATH", description = "Measure the vhost-user-blk device on this socket.")
    Path socket;
    @Option(names = "--target-pid", paramLabel = "PID", description = "With --socket: the target's pid, to report its CPU time.")
    Long targetPid;
    @Option(names = "--qsd-null", paramLabel = "SIZE", description = "Start qemu-storage-daemon with a null-co device of SIZE (e.g. 1G).")
    String qsdNull;
    @Option(names = "--qsd-file", paramLabel = "IMAGE", description = "Start qemu-storage-daemon exporting this file.")
    Path qsdFile;
    @Option(names = "-q", paramLabel = "DEPTH[,DEPTH...]", description = "Queue depths, run one after another (default: 32).")
    String depths;
    @Option(names = "-o", paramLabel = "IO_SIZE", description = "Bytes per I/O, a multiple of the block size: 4096, 4k, 1M (default: 4096).")
    String ioSize;
    @Option(names = "-w", paramLabel = "WORKLOAD", description = "The I/O pattern (default: randread).")
    String workload;
    @Option(names = "-M", paramLabel = "RWMIXREAD", description = "Read percentage of rw/randrw, 0..100 (default: 50).")
    String mix;
    @Option(names = "-t", paramLabel = "SECONDS", description = "How long each depth runs, at least 1 (default: 5).")
    String seconds;
    @Option(names = "-m", paramLabel = "CORE_MASK", description = "SPDK's core mask (e.g. 0x3): one polling thread per set bit (default: 0x1).")
    String coreMask;
    @Option(names = "--cores", paramLabel = "N", description = "Cores 0..N-1, as -m with N bits (default: 1).")
    String cores;
    @Option(names = "-C", description = "A job for every bdev on every core (bdevperf's -C); default: bdevs dealt round-robin over the cores.")
    boolean everyCore;
    @Option(names = "--jfr", paramLabel = "FILE", description = "Record the run (attach to detach) with JDK Flight Recorder into FILE: the JDK's default"
            + " settings and every io.jvirtio event.")
    Path jfr;
    @Option(names = "--vq-size", paramLabel = "N", description = "With --socket/--qsd-*: ring size, a power of two from 4 to 32768 (default: 256, or more for deep -q).")
    String vqSize;
    @Option(names = "--hugepages", paramLabel = "auto|require|never", description = "With --socket/--qsd-*: shared memory from huge pages (default: auto).")
    String hugePages;
    @Option(names = "--output", paramLabel = "text|json", description = "The report: a table, or JSON for scripts (default: text).")
    String output;
    @Option(names = "--ctrlr-loss-timeout-sec", paramLabel = "N", description = "0 never reconnects (default), -1 for ever.")
    String ctrlrLossTimeout;
    @Option(names = "--reconnect-delay-sec", paramLabel = "N", description = "The longest pause between reconnect attempts.")
    String reconnectDelay;
    @Option(names = "--fast-io-fail-timeout-sec", paramLabel = "N", description = "How long I/O waits for a reconnect before it fails (0: until given up).")
    String fastIoFailTimeout;
    @Option(names = "--completion", paramLabel = "polling|interrupt|adaptive[:MICROS]", description = "How a job waits for completions:"
            + " spinning on the ring (default), asleep on the queue's call eventfd, or spinning MICROS (default 50) after the last"
            + " completion and then asleep. The sleeping modes need one job per core and a vhost-user device.")
    String completion;
    @Option(names = "--warmup", paramLabel = "SECONDS", description = "Run each job unmeasured for SECONDS first, fio's ramp_time:"
            + " the JIT compiles the I/O path before the measurement (default: 1; 0 measures from the first I/O, as bdevperf).")
    String warmup;
    @Option(names = "--rate", paramLabel = "IOPS", description = "Submit at most IOPS I/Os per second per job, paced (default: as fast as"
            + " completions come back). With --completion interrupt, the CPU of a lightly loaded job.")
    String rate;

    PerfCommand(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws Exception {
        PerfSettings s = PerfSettings.check(this);
        PerfJfr recording = PerfJfr.startOrNull(s.jfr());
        try {
            return measure(s);
        } finally {
            if (recording != null) {
                recording.close();
                (s.json() ? cli.err() : cli.out()).println("JFR recording written to " + s.jfr());
            }
        }
    }

    private int measure(PerfSettings s) throws Exception {
        PrintStream out = cli.out();
        PrintStream err = cli.err();
        PrintStream lines = s.json() ? err : out;
        Progress progress = cli.progress(lines);
        try (PerfBdevs bdevs = PerfBdevs.open(s, progress)) {
            long t0 = System.nanoTime();
            for (VirtioDevice d : bdevs.devices()) {
                d.addLinkListener(new ProgressLinkListener(progress, t0));
            }
            for (Bdev b : bdevs.list()) {
                lines.printf(Locale.ROOT, "bdev %s: %d blocks of %d bytes, %d channel(s)%n", b.name(), b.blockCount(), b.blockSize(),
                        b.maxChannels());
            }
            CoreLayout layout = CoreLayout.of(bdevs.list(), s.cores(), s.everyCore());
            QueueNeeds.check(bdevs.list(), layout);
            lines.println("cores: " + layout.describe());
            // every job of every depth is built (and its -o/-q checked against each bdev) before the first runs
            List<List<PerfJob>> plan = new ArrayList<>();
            for (int depth : s.depths()) {
                plan.add(jobs(layout, s, depth));
            }
            List<PerfReport.Run> runs = new ArrayList<>();
            List<String> failures = new ArrayList<>();
            for (int i = 0; i < plan.size(); i++) {
                int depth = s.depths().get(i);
                lines.printf(Locale.ROOT, "running %s -q %d -o %d for %d s on %d core(s)%n", s.workload().spdkName(), depth, s.ioSize(),
                        s.seconds(), s.cores().size());
                long wall0 = System.nanoTime();
                long jvm0 = ProcessCpu.nanos(ProcessCpu.self());
                long tgt0 = bdevs.targetPid() > 0 ? ProcessCpu.nanos(bdevs.targetPid()) : -1;
                JobRunner.Outcome o = JobRunner.run(plan.get(i), layout.coreOfEachJob(), progress::event, progress::update);
                progress.done();
                long jvm = ProcessCpu.nanos(ProcessCpu.self()) - jvm0;
                long tgt = tgt0 >= 0 ? ProcessCpu.nanos(bdevs.targetPid()) - tgt0 : -1;
                long wall = System.nanoTime() - wall0;
                o.mergedByBdev().forEach(r -> runs.add(new PerfReport.Run(r, jvm, tgt, wall)));
                o.failureLines().forEach(f -> failures.add("-q " + depth + ": " + f));
            }
            out.print(s.json() ? PerfReport.json(runs) : PerfReport.table(runs));
            for (PerfReport.Run r : runs) {
                if (r.result().errors() > 0) {
                    err.printf(Locale.ROOT, "perf: %s -q %d: %d I/Os failed; the first: %s%n", r.result().bdev(), r.result().queueDepth(),
                            r.result().errors(), r.result().firstError());
                } else if (r.result().firstError() != null) {
                    err.printf(Locale.ROOT, "perf: %s -q %d: %s%n", r.result().bdev(), r.result().queueDepth(), r.result().firstError());
                }
            }
            for (String f : failures) {
                err.println("perf: job failed: " + f);
            }
            boolean failed = !failures.isEmpty() || runs.stream().anyMatch(r -> r.result().errors() > 0 || r.result().firstError() != null);
            return failed ? Jvirtio.FAILURE : 0;
        }
    }

    private static List<PerfJob> jobs(CoreLayout layout, PerfSettings s, int depth) {
        List<PerfJob> jobs = new ArrayList<>();
        int seed = 0;
        for (CoreLayout.Placement p : layout.placements()) {
            PerfJob job = new PerfJob(p.bdev(), s.workload(), depth, s.ioSize(), s.mix(), s.seconds() * 1_000_000_000L, 42 + seed++,
                    p.index(), p.ofBdev());
            job.pacing(s.completion(), s.rate());
            job.warmup(s.warmupSeconds() * 1_000_000_000L);
            jobs.add(job);
        }
        return jobs;
    }

    /** The reconnect options, checked by SPDK's rules; errors name the options. */
    ReconnectPolicy reconnectPolicy() {
        int loss = Args.parseSignedInt("--ctrlr-loss-timeout-sec", ctrlrLossTimeout, 0);
        int delay = Args.parseSignedInt("--reconnect-delay-sec", reconnectDelay, 0);
        int fast = Args.parseSignedInt("--fast-io-fail-timeout-sec", fastIoFailTimeout, 0);
        try {
            return new ReconnectPolicy(loss, delay, fast);
        } catch (IllegalArgumentException e) {
            String m = e.getMessage();
            for (String o : List.of("--ctrlr-loss-timeout-sec", "--reconnect-delay-sec", "--fast-io-fail-timeout-sec")) {
                m = m.replace(o.substring(2).replace('-', '_'), o);
            }
            throw new UserError(m);
        }
    }

    /** @return the reconnect options given, by name */
    List<String> reconnectOptionsGiven() {
        List<String> given = new ArrayList<>();
        if (ctrlrLossTimeout != null) {
            given.add("--ctrlr-loss-timeout-sec");
        }
        if (reconnectDelay != null) {
            given.add("--reconnect-delay-sec");
        }
        if (fastIoFailTimeout != null) {
            given.add("--fast-io-fail-timeout-sec");
        }
        return given;
    }

    /** Prints a device's disconnect, reconnect and give-up among the progress lines, as they happen. */
    private record ProgressLinkListener(Progress out, long t0) implements LinkListener {
        @Override
        public void disconnected(String device, String reason) {
            out.event(String.format(Locale.ROOT, "%6.1f s  %s: disconnected: %s", secs(), device, reason));
        }

        @Override
        public void reconnected(String device, long stallNanos) {
            out.event(String.format(Locale.ROOT, "%6.1f s  %s: reconnected after %d ms; I/O resumed", secs(), device, stallNanos / 1_000_000));
        }

        @Override
        public void givenUp(String device, String reason) {
            out.event(String.format(Locale.ROOT, "%6.1f s  %s: given up: %s", secs(), device, reason));
        }

        private double secs() {
            return (System.nanoTime() - t0) / 1e9;
        }
    }
}
