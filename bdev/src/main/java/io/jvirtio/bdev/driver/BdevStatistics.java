package io.jvirtio.bdev.driver;

import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.bdev.ChannelIoStatistics;
import io.jvirtio.bdev.IoStatistics;
import io.jvirtio.bdev.IoType;
import io.jvirtio.bdev.OpStatistics;
import io.jvirtio.bdev.jfr.BdevStatisticsEvent;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;

/**
 * A bdev's I/O statistics: the {@link IoCounters} of its open channels and the totals of its closed
 * ones, summed on demand into an {@link IoStatistics} snapshot. Channels register at open
 * ({@link #openChannel()}) and fold their counts into the totals at close
 * ({@link #channelClosed(IoCounters)}); neither happens on the I/O path.
 *
 * <p>Live bdevs are also listed for the periodic JFR event {@link BdevStatisticsEvent}: a bdev is
 * listed from construction until {@link #close()} (and held weakly, so a bdev dropped without
 * closing does not stay).
 */
public final class BdevStatistics {
    private static final Set<BdevStatistics> LIVE = Collections.synchronizedSet(Collections.newSetFromMap(new WeakHashMap<>()));

    private final String bdevName;
    private final List<IoCounters> open = new ArrayList<>(); // guarded by this
    private final long[] closed = IoCounters.emptySum(); // guarded by this

    /** @param bdevName the bdev counted */
    public BdevStatistics(String bdevName) {
        this.bdevName = bdevName;
        BdevStatisticsEvent.ensureRegistered();
        LIVE.add(this);
    }

    /** @return the bdev counted */
    public String bdevName() {
        return bdevName;
    }

    /** @return fresh counters for a channel being opened, counted in this bdev's sums until closed */
    public synchronized IoCounters openChannel() {
        IoCounters c = new IoCounters(this);
        open.add(c);
        return c;
    }

    /**
     * A channel closed: its counts move to the closed totals. Call after its last I/O completed, on
     * its thread (or after that thread's last write is visible).
     */
    public synchronized void channelClosed(IoCounters counters) {
        if (counters.owner == this && open.remove(counters)) {
            counters.addTo(closed);
        }
    }

    /** The bdev is gone: it leaves the list of the periodic JFR event. Its counts stay readable. */
    public void close() {
        LIVE.remove(this);
    }

    /** @return every channel's counts summed, now */
    public IoStatistics snapshot() {
        long[] sum;
        synchronized (this) {
            sum = closed.clone();
            for (IoCounters c : open) {
                c.addTo(sum);
            }
        }
        return toStatistics(sum);
    }

    /** @return each open channel's counts, in the order they were opened */
    public List<ChannelIoStatistics> channelSnapshots() {
        List<IoCounters> channels;
        synchronized (this) {
            channels = new ArrayList<>(open);
        }
        List<ChannelIoStatistics> out = new ArrayList<>(channels.size());
        for (IoCounters c : channels) {
            long[] sum = IoCounters.emptySum();
            c.addTo(sum);
            out.add(new ChannelIoStatistics(c.threadId, c.threadName, toStatistics(sum)));
        }
        return List.copyOf(out);
    }

    private IoStatistics toStatistics(long[] sum) {
        long now = System.nanoTime();
        Map<IoType, OpStatistics> byType = new EnumMap<>(IoType.class);
        IoType[] types = IoCounters.types();
        for (int t = 0; t < types.length; t++) {
            int b = IoCounters.PAD + t * IoCounters.PER_TYPE;
            long ops = sum[b + IoCounters.OPS];
            long min = sum[b + IoCounters.MIN];
            byType.put(types[t], new OpStatistics(sum[b + IoCounters.BYTES], ops, sum[b + IoCounters.LATENCY],
                    ops == 0 ? 0 : sum[b + IoCounters.MAX], ops == 0 || min == Long.MAX_VALUE ? 0 : min));
        }
        Map<Reason, Long> errors = new EnumMap<>(Reason.class);
        Reason[] reasons = IoCounters.reasons();
        for (int r = 0; r < reasons.length; r++) {
            errors.put(reasons[r], sum[IoCounters.ERRORS + r]);
        }
        return new IoStatistics(bdevName, now, byType, errors);
    }

    /** @return the bdevs listed for the periodic event, a copy */
    public static List<BdevStatistics> live() {
        synchronized (LIVE) {
            return new ArrayList<>(LIVE);
        }
    }
}
