package io.jvirtio.tools.perf;

import org.HdrHistogram.Histogram;

/**
 * What one job measured.
 *
 * @param bdev         the bdev name
 * @param workload     the pattern
 * @param queueDepth   I/Os kept in flight
 * @param ioSize       bytes per I/O
 * @param ios          I/Os completed
 * @param bytes        bytes moved
 * @param errors       I/Os that completed with an error (miscompares included)
 * @param miscompares  verify: blocks that read back differently from what was written
 * @param elapsedNanos wall time of the measured phase
 * @param cpuNanos     CPU time of the polling thread during the measured phase
 * @param latency      completion latency in nanoseconds
 * @param firstError   the first error an I/O met (completion or refusal), or null
 */
public record PerfResult(String bdev, Workload workload, int queueDepth, int ioSize, long ios, long bytes, long errors,
                         long miscompares, long elapsedNanos, long cpuNanos, Histogram latency, String firstError) {

    /**
     * Adds up the jobs of one bdev (several cores): counts summed, histograms merged, the longest
     * wall time and the summed polling CPU time.
     */
    public static PerfResult merge(java.util.List<PerfResult> jobs) {
        if (jobs.size() == 1) {
            return jobs.getFirst();
        }
        PerfResult first = jobs.getFirst();
        Histogram h = first.latency.copy();
        long ios = 0, bytes = 0, errors = 0, miscompares = 0, elapsed = 0, cpu = 0;
        String firstError = null;
        for (PerfResult r : jobs) {
            if (firstError == null) {
                firstError = r.firstError;
            }
            ios += r.ios;
            bytes += r.bytes;
            errors += r.errors;
            miscompares += r.miscompares;
            elapsed = Math.max(elapsed, r.elapsedNanos);
            cpu += r.cpuNanos;
            if (r != first) {
                h.add(r.latency);
            }
        }
        return new PerfResult(first.bdev, first.workload, first.queueDepth, first.ioSize, ios, bytes, errors, miscompares, elapsed, cpu, h, firstError);
    }

    /**
     * bdevperf's Total row over jobs that ran side by side: counts summed, histograms merged, and
     * IOPS the sum of the jobs' IOPS (the wall time is the one that gives that rate, since the jobs'
     * measured phases end a little apart); CPU summed.
     */
    public static PerfResult total(java.util.List<PerfResult> jobs) {
        PerfResult m = merge(jobs);
        double iops = jobs.stream().mapToDouble(PerfResult::iops).sum();
        long elapsed = iops > 0 ? Math.round(m.ios * 1e9 / iops) : m.elapsedNanos;
        return new PerfResult("Total", m.workload, m.queueDepth, m.ioSize, m.ios, m.bytes, m.errors, m.miscompares, elapsed, m.cpuNanos,
                m.latency, m.firstError);
    }

    /** @return I/Os per second */
    public double iops() {
        return ios * 1e9 / elapsedNanos;
    }

    /** @return MiB per second */
    public double mibPerSecond() {
        return bytes * 1e9 / elapsedNanos / (1 << 20);
    }

    /** @return a latency percentile in microseconds */
    public double latencyMicros(double percentile) {
        return latency.getValueAtPercentile(percentile) / 1000.0;
    }

    /** @return the mean latency in microseconds */
    public double meanLatencyMicros() {
        return latency.getMean() / 1000.0;
    }

    /** @return the largest latency in microseconds */
    public double maxLatencyMicros() {
        return latency.getMaxValue() / 1000.0;
    }
}
