package io.jvirtio.bdev;

/**
 * What one I/O type of a {@link Bdev} did, as SPDK's {@code spdk_bdev_io_stat} counts it: only I/Os
 * that completed successfully, with their latency from submission to the completion callback in
 * ticks of {@link IoStatistics#TICK_RATE} (nanoseconds).
 *
 * @param bytes           bytes carried (for unmap and write-zeroes: bytes of the range)
 * @param ops             I/Os completed successfully
 * @param latencyTicks    the sum of their latencies
 * @param maxLatencyTicks the longest latency; 0 when {@code ops} is 0
 * @param minLatencyTicks the shortest latency; 0 when {@code ops} is 0 (SPDK prints 0 for its UINT64_MAX)
 */
public record OpStatistics(long bytes, long ops, long latencyTicks, long maxLatencyTicks, long minLatencyTicks) {
    /** Nothing counted. */
    public static final OpStatistics NONE = new OpStatistics(0, 0, 0, 0, 0);

    /** @return the mean latency in ticks, 0 when nothing was counted */
    public double meanLatencyTicks() {
        return ops == 0 ? 0 : (double) latencyTicks / ops;
    }

    /** @return both counts summed; min and max over both (a side with no ops does not count) */
    public OpStatistics plus(OpStatistics o) {
        if (o.ops == 0) {
            return ops == 0 ? new OpStatistics(bytes + o.bytes, 0, latencyTicks + o.latencyTicks, 0, 0) : withTotals(o);
        }
        if (ops == 0) {
            return o.withTotals(this);
        }
        return new OpStatistics(bytes + o.bytes, ops + o.ops, latencyTicks + o.latencyTicks,
                Math.max(maxLatencyTicks, o.maxLatencyTicks), Math.min(minLatencyTicks, o.minLatencyTicks));
    }

    private OpStatistics withTotals(OpStatistics o) {
        return new OpStatistics(bytes + o.bytes, ops + o.ops, latencyTicks + o.latencyTicks, maxLatencyTicks, minLatencyTicks);
    }

    /**
     * @param earlier a snapshot of the same counters taken before this one
     * @return what happened in between; min and max are this snapshot's (they cannot be subtracted)
     */
    public OpStatistics minus(OpStatistics earlier) {
        return new OpStatistics(bytes - earlier.bytes, ops - earlier.ops, latencyTicks - earlier.latencyTicks,
                maxLatencyTicks, minLatencyTicks);
    }
}
