package io.jvirtio.tools.perf;

import java.util.List;
import java.util.Locale;

/** Renders results as bdevperf-like text or as JSON for scripts. */
public final class PerfReport {
    private PerfReport() {
    }

    /**
     * One measured run and the CPU time spent by the processes involved.
     *
     * @param wallNanos the wall time over which the processes' CPU time was taken (the whole run: opening,
     *                  warm-up, measured phase, drain)
     */
    public record Run(PerfResult result, long jvmCpuNanos, long targetCpuNanos, long wallNanos) {
    }

    /**
     * @return a table, one row per run and a {@code Total} row per queue depth with several;
     *         {@code cpu%} is the row's share of its core threads' CPU time (a core thread's time
     *         shared out among its jobs by their completions; 100 per busy core), and after the
     *         rows of each queue depth a line gives the whole JVM's and the target process's CPU over that run
     */
    public static String table(List<Run> runs) {
        return table(runs, false);
    }

    /**
     * @param eachRunAlone every row is a run of its own (jobs run one after another, as the demo's): no
     *                     {@code Total} rows, a CPU line after each row
     * @return the table
     */
    public static String table(List<Run> runs, boolean eachRunAlone) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-16s %-12s %5s %7s %12s %10s %9s %9s %9s %9s %9s %7s %7s%n",
                "bdev", "workload", "qd", "io_size", "IOPS", "MiB/s", "avg_us", "p50_us", "p99_us", "p99.9_us", "max_us",
                "errors", "cpu%"));
        int groupStart = 0;
        for (int i = 0; i < runs.size(); i++) {
            Run run = runs.get(i);
            PerfResult r = run.result;
            row(sb, r.bdev(), r);
            boolean lastOfRun = eachRunAlone || i + 1 == runs.size() || runs.get(i + 1).result.queueDepth() != r.queueDepth()
                    || runs.get(i + 1).jvmCpuNanos != run.jvmCpuNanos;
            if (lastOfRun && i > groupStart) {
                List<PerfResult> group = runs.subList(groupStart, i + 1).stream().map(Run::result).toList();
                row(sb, "Total", PerfResult.total(group));
            }
            if (lastOfRun) {
                groupStart = i + 1;
            }
            if (lastOfRun && run.jvmCpuNanos >= 0) {
                // CPU time taken over the whole run (warm-up included) is divided by that run's wall time:
                // over the measured phase alone it came out above 100 % of a core for one polling thread
                sb.append(String.format(Locale.ROOT, "  processes over the -q %d run (%.1f s with warm-up): jvm %s%% CPU, target %s%n",
                        r.queueDepth(), run.wallNanos / 1e9, percent(run.jvmCpuNanos, run.wallNanos),
                        run.targetCpuNanos < 0 ? "n/a (in this JVM, or its pid unknown)" : percent(run.targetCpuNanos, run.wallNanos) + "% CPU"));
            }
        }
        return sb.toString();
    }

    private static void row(StringBuilder sb, String name, PerfResult r) {
        sb.append(String.format(Locale.ROOT, "%-16s %-12s %5d %7d %12.0f %10.2f %9.2f %9.2f %9.2f %9.2f %9.2f %7d %7s%n",
                name, r.workload().spdkName(), r.queueDepth(), r.ioSize(), r.iops(), r.mibPerSecond(),
                r.meanLatencyMicros(), r.latencyMicros(50), r.latencyMicros(99), r.latencyMicros(99.9),
                r.maxLatencyMicros(), r.errors(), percent(r.cpuNanos(), r.elapsedNanos())));
    }

    private static String percent(long cpu, long elapsed) {
        return cpu < 0 ? "n/a" : String.format(Locale.ROOT, "%.1f", cpu * 100.0 / elapsed);
    }

    /** @return a JSON document: {@code {"results":[...]}} */
    public static String json(List<Run> runs) {
        StringBuilder sb = new StringBuilder("{\n  \"results\": [");
        for (int i = 0; i < runs.size(); i++) {
            Run run = runs.get(i);
            PerfResult r = run.result;
            sb.append(i == 0 ? "\n" : ",\n");
            sb.append(String.format(Locale.ROOT, """
                        {
                          "bdev": "%s",
                          "workload": "%s",
                          "queue_depth": %d,
                          "io_size": %d,
                          "runtime_s": %.3f,
                          "ios": %d,
                          "iops": %.1f,
                          "mibps": %.3f,
                          "errors": %d,
                          "miscompares": %d,
                          "latency_us": {"avg": %.3f, "p50": %.3f, "p99": %.3f, "p99_9": %.3f, "max": %.3f},
                          "cpu_s": {"jvm": %.3f, "jvm_polling_thread": %.3f, "target": %s, "over_wall_s": %.3f}
                        }""",
                    escape(r.bdev()), r.workload().spdkName(), r.queueDepth(), r.ioSize(), r.elapsedNanos() / 1e9,
                    r.ios(), r.iops(), r.mibPerSecond(), r.errors(), r.miscompares(), r.meanLatencyMicros(), r.latencyMicros(50),
                    r.latencyMicros(99), r.latencyMicros(99.9), r.maxLatencyMicros(), run.jvmCpuNanos / 1e9,
                    r.cpuNanos() / 1e9, run.targetCpuNanos < 0 ? "null" : String.format(Locale.ROOT, "%.3f", run.targetCpuNanos / 1e9),
                    run.wallNanos / 1e9));
        }
        return sb.append("\n  ]\n}\n").toString();
    }

    private static String escape(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"");
    }
}
