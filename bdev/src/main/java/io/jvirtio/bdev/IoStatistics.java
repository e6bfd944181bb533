package io.jvirtio.bdev;

import io.jvirtio.bdev.BdevIoException.Reason;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;

/**
 * An immutable snapshot of a {@link Bdev}'s I/O statistics (SPDK's {@code bdev_get_iostat}): the
 * counters of every channel the bdev ever had, open or closed, summed when asked for. Each channel
 * counts on its own thread without locks or shared cache lines; a snapshot reads them without
 * stopping I/O, so it is consistent per counter, not across counters.
 *
 * <p>Successful I/Os are counted per {@link IoType} ({@link OpStatistics}); failed ones only in
 * {@link #errors()}, by {@link Reason} (SPDK likewise counts failures only in {@code io_error}).
 * Arguments refused at submission (a thrown {@link BdevIoException}) are not I/Os and are not
 * counted.
 *
 * @param bdevName the bdev
 * @param ticks    the clock ({@link System#nanoTime()}) when the snapshot was taken: SPDK's {@code ticks}
 * @param byType   per I/O type, every {@link IoType} present
 * @param errors   failed I/Os per reason; only reasons that occurred
 */
public record IoStatistics(String bdevName, long ticks, Map<IoType, OpStatistics> byType, Map<Reason, Long> errors) {
    /** Ticks per second of {@link #ticks()} and of every latency: nanoseconds. SPDK's {@code tick_rate}. */
    public static final long TICK_RATE = 1_000_000_000L;

    /** Copies the maps (immutable, in enum order). */
    public IoStatistics {
        EnumMap<IoType, OpStatistics> types = new EnumMap<>(IoType.class);
        for (IoType t : IoType.values()) {
            types.put(t, byType.getOrDefault(t, OpStatistics.NONE));
        }
        byType = Collections.unmodifiableMap(types);
        EnumMap<Reason, Long> errs = new EnumMap<>(Reason.class);
        errors.forEach((r, n) -> {
            if (n != 0) {
                errs.put(r, n);
            }
        });
        errors = Collections.unmodifiableMap(errs);
    }

    /** @return a snapshot with nothing counted, taken now */
    public static IoStatistics empty(String bdevName) {
        return new IoStatistics(bdevName, System.nanoTime(), Map.of(), Map.of());
    }

    /** @return the counters of {@code type} */
    public OpStatistics of(IoType type) {
        return byType.get(type);
    }

    /** @return the read counters */
    public OpStatistics read() {
        return of(IoType.READ);
    }

    /** @return the write counters */
    public OpStatistics write() {
        return of(IoType.WRITE);
    }

    /** @return the unmap counters */
    public OpStatistics unmap() {
        return of(IoType.UNMAP);
    }

    /** @return failed I/Os of {@code reason} */
    public long errors(Reason reason) {
        return errors.getOrDefault(reason, 0L);
    }

    /** @return failed I/Os, every reason */
    public long errorCount() {
        long n = 0;
        for (long v : errors.values()) {
            n += v;
        }
        return n;
    }

    /**
     * @param earlier a snapshot of the same bdev taken before this one
     * @return what happened in between (for an interval display such as {@code iostat}); min and max
     *         latencies are this snapshot's; {@link #ticks()} is this snapshot's
     */
    public IoStatistics minus(IoStatistics earlier) {
        EnumMap<IoType, OpStatistics> types = new EnumMap<>(IoType.class);
        for (IoType t : IoType.values()) {
            types.put(t, of(t).minus(earlier.of(t)));
        }
        EnumMap<Reason, Long> errs = new EnumMap<>(Reason.class);
        for (Reason r : Reason.values()) {
            errs.put(r, errors(r) - earlier.errors(r));
        }
        return new IoStatistics(bdevName, ticks, types, errs);
    }
}
