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
 * @param errors       I/Os that completed with an error
 * @param elapsedNanos wall time of the measured phase
 * @param cpuNanos     CPU time of the polling thread during the measured phase
 * @param latency      completion latency in nanoseconds
 */
public record PerfResult(String bdev, Workload workload, int queueDepth, int ioSize, long ios, long bytes, long errors,
                         long elapsedNanos, long cpuNanos, Histogram latency) {

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
