package io.jvirtio.tools;

import io.jvirtio.bdev.CompletionMode;
import io.jvirtio.core.ReconnectPolicy;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.tools.perf.Workload;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code jvirtio perf}'s options, every one checked before anything is attached or run; each
 * error names the option and the value.
 *
 * @param config          --json CONFIG, or null
 * @param bdev            -b BDEV, or null
 * @param skipUnsupported --skip-unsupported
 * @param socket          --socket PATH, or null
 * @param targetPid       --target-pid, or -1
 * @param qsdNullBytes    --qsd-null SIZE in bytes, or -1
 * @param qsdFile         --qsd-file IMAGE, or null
 * @param depths          -q
 * @param ioSize          -o
 * @param workload        -w
 * @param mix             -M
 * @param seconds         -t
 * @param cores           the cores of -m (its set bits) or --cores N (0..N-1), in order
 * @param everyCore       -C: every bdev on every core (else bdevs round-robin over the cores)
 * @param jfr             --jfr FILE, or null
 * @param vqSize          --vq-size, or -1 for the default
 * @param hugePages       --hugepages
 * @param json            --output json
 * @param reconnect       the reconnect policy
 */
record PerfSettings(Path config, String bdev, boolean skipUnsupported, Path socket, long targetPid, long qsdNullBytes, Path qsdFile,
                    List<Integer> depths, int ioSize, Workload workload, int mix, long seconds, List<Integer> cores, boolean everyCore,
                    int vqSize, HugePagePolicy hugePages, boolean json, ReconnectPolicy reconnect, Path jfr,
                    CompletionMode completion, long rate, long warmupSeconds) {
    /** --completion adaptive without MICROS: SPDK's interrupt-mode pollers use a comparable grace period. */
    static final long DEFAULT_ADAPTIVE_MICROS = 50;

    /** Ring sizes the driver takes. */
    static final int MIN_VQ_SIZE = 4;
    static final int MAX_VQ_SIZE = 32768;

    /** @return the largest -q */
    int maxDepth() {
        return depths.stream().mapToInt(Integer::intValue).max().orElse(1);
    }

    static PerfSettings check(PerfCommand c) {
        int given = (c.config != null ? 1 : 0) + (c.socket != null ? 1 : 0) + (c.qsdNull != null ? 1 : 0) + (c.qsdFile != null ? 1 : 0);
        if (given != 1) {
            throw new UserError("give exactly one of --json CONFIG, --socket PATH, --qsd-null SIZE, --qsd-file IMAGE"
                    + (given == 0 ? " (what to measure)" : ", not " + given));
        }
        if (c.config == null) {
            if (c.bdev != null) {
                throw new UserError("-b " + c.bdev + ": -b picks a bdev of a --json config; with " + source(c)
                        + " the one bdev is VirtioBlk0");
            }
            if (c.skipUnsupported) {
                throw new UserError("--skip-unsupported: only with --json (it skips config methods jvirtio does not have)");
            }
        } else {
            for (String o : c.reconnectOptionsGiven()) {
                throw new UserError(o + ": with --json the reconnect policy is the controller's params in the config ("
                        + o.substring(2).replace('-', '_') + " of bdev_virtio_attach_controller)");
            }
            for (String[] o : new String[][] {{"--vq-size", c.vqSize}, {"--hugepages", c.hugePages}}) {
                if (o[1] != null) {
                    throw new UserError(o[0] + " " + o[1] + ": with --json the config's vq_size and the library defaults apply");
                }
            }
            if (!Files.isRegularFile(c.config)) {
                throw new UserError("--json " + c.config + ": no such file");
            }
        }
        if (c.qsdFile != null && !Files.isRegularFile(c.qsdFile)) {
            throw new UserError("--qsd-file " + c.qsdFile + ": no such file");
        }
        long qsdNull = -1;
        if (c.qsdNull != null) {
            qsdNull = Args.parseSize("--qsd-null", c.qsdNull);
            if (qsdNull < 4096) {
                throw new UserError("--qsd-null " + c.qsdNull + ": at least 4k");
            }
        }
        if (c.targetPid != null && c.socket == null) {
            throw new UserError("--target-pid " + c.targetPid + ": only with --socket (jvirtio knows the pid of a target it starts)");
        }
        Workload workload = Workload.parse(c.workload != null ? c.workload : "randread");
        int ioSize = Args.parseInt("-o", c.ioSize, 4096);
        if (ioSize < 512 || ioSize % 512 != 0) {
            throw new UserError("-o " + c.ioSize + ": the I/O size must be a positive multiple of 512 (the smallest block size)");
        }
        int mix = Args.parseInt("-M", c.mix, 50);
        if (mix > 100) {
            throw new UserError("-M " + c.mix + ": the read percentage must be 0..100");
        }
        long seconds = Args.parseInt("-t", c.seconds, 5);
        if (seconds < 1) {
            throw new UserError("-t " + c.seconds + ": run for at least 1 second");
        }
        List<Integer> depths = parseDepths(c.depths != null ? c.depths : "32");
        List<Integer> cores = parseCores(c);
        if (c.jfr != null && (c.jfr.getParent() != null && !Files.isDirectory(c.jfr.getParent()))) {
            throw new UserError("--jfr " + c.jfr + ": no such directory " + c.jfr.getParent());
        }
        boolean json = switch (c.output != null ? c.output : "text") {
            case "text" -> false;
            case "json" -> true;
            default -> throw new UserError("--output " + c.output + ": one of text, json");
        };
        HugePagePolicy huge = switch (c.hugePages != null ? c.hugePages : "auto") {
            case "auto" -> HugePagePolicy.AUTO;
            case "require" -> HugePagePolicy.REQUIRE;
            case "never" -> HugePagePolicy.NEVER;
            default -> throw new UserError("--hugepages " + c.hugePages + ": one of auto, require, never");
        };
        int vqSize = -1;
        if (c.vqSize != null) {
            vqSize = Args.parseInt("--vq-size", c.vqSize, -1);
            if (vqSize < MIN_VQ_SIZE || vqSize > MAX_VQ_SIZE || Integer.bitCount(vqSize) != 1) {
                throw new UserError("--vq-size " + c.vqSize + ": must be a power of two from " + MIN_VQ_SIZE + " to " + MAX_VQ_SIZE);
            }
        }
        ReconnectPolicy reconnect = c.reconnectPolicy();
        CompletionMode completion = parseCompletion(c.completion);
        long rate = c.rate == null ? 0 : Args.parseInt("--rate", c.rate, 0);
        if (c.rate != null && rate < 1) {
            throw new UserError("--rate " + c.rate + ": I/Os per second must be at least 1");
        }
        if (completion.sleeps() && (c.everyCore || cores.size() > 1)) {
            // a job asleep on its queue's eventfd would leave the other jobs of its core thread unpolled
            throw new UserError("--completion " + c.completion + ": the sleeping modes run one job per core (not with -C or several cores)");
        }
        long warmupSeconds = c.warmup == null ? 1 : Args.parseInt("--warmup", c.warmup, -1);
        if (warmupSeconds < 0) {
            throw new UserError("--warmup " + c.warmup + ": seconds must be 0 or more");
        }
        return new PerfSettings(c.config, c.bdev, c.skipUnsupported, c.socket, c.targetPid != null ? c.targetPid : -1, qsdNull, c.qsdFile,
                depths, ioSize, workload, mix, seconds, cores, c.everyCore, vqSize, huge, json, reconnect, c.jfr, completion, rate,
                warmupSeconds);
    }

    private static CompletionMode parseCompletion(String spec) {
        if (spec == null || spec.equals("polling")) {
            return CompletionMode.polling();
        }
        if (spec.equals("interrupt")) {
            return CompletionMode.interrupt();
        }
        if (spec.equals("adaptive") || spec.startsWith("adaptive:")) {
            long micros = spec.equals("adaptive") ? DEFAULT_ADAPTIVE_MICROS : Args.parseInt("--completion adaptive:MICROS", spec.substring(9), 0);
            if (micros < 1) {
                throw new UserError("--completion " + spec + ": adaptive:MICROS needs at least 1 microsecond of polling");
            }
            return CompletionMode.adaptive(java.time.Duration.ofNanos(micros * 1000));
        }
        throw new UserError("--completion " + spec + ": one of polling, interrupt, adaptive, adaptive:MICROS");
    }

    private static String source(PerfCommand c) {
        return c.socket != null ? "--socket" : c.qsdNull != null ? "--qsd-null" : "--qsd-file";
    }

    private static List<Integer> parseDepths(String spec) {
        List<Integer> depths = new ArrayList<>();
        for (String d : spec.split(",", -1)) {
            int q = Args.parseInt("-q", d, 0);
            if (q < 1) {
                throw new UserError("-q " + d + ": queue depth must be at least 1");
            }
            depths.add(q);
        }
        return depths;
    }

    /** {@code -m 0x3} (SPDK's core mask: its set bits) or {@code --cores N} (cores 0..N-1). */
    private static List<Integer> parseCores(PerfCommand c) {
        if (c.coreMask != null && c.cores != null) {
            throw new UserError("-m " + c.coreMask + " --cores " + c.cores + ": give -m or --cores, not both");
        }
        if (c.coreMask != null) {
            String m = c.coreMask;
            try {
                long mask = m.startsWith("0x") || m.startsWith("0X") ? Long.parseUnsignedLong(m.substring(2), 16) : Long.parseLong(m);
                if (mask == 0) {
                    throw new UserError("-m " + m + ": the core mask selects no core");
                }
                List<Integer> bits = new ArrayList<>();
                for (int b = 0; b < 64; b++) {
                    if ((mask & (1L << b)) != 0) {
                        bits.add(b);
                    }
                }
                return List.copyOf(bits);
            } catch (NumberFormatException e) {
                throw new UserError("-m " + m + ": not a core mask (e.g. 0x3)");
            }
        }
        int cores = Args.parseInt("--cores", c.cores, 1);
        if (cores < 1) {
            throw new UserError("--cores " + c.cores + ": at least 1");
        }
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < cores; i++) {
            ids.add(i);
        }
        return List.copyOf(ids);
    }
}
