package io.jvirtio.bdev.driver;

import java.util.function.Supplier;

/**
 * A channel's fixed pool of caller I/O contexts: a free-slot stack, sized once (the channel's depth).
 * {@link #take()} returns null when every slot is in use (the channel answers {@code false}, SPDK's
 * {@code -ENOMEM}).
 *
 * @param <I> the driver's I/O context
 */
public final class IoSlots<I extends DriverIo> {
    private final String bdevName;
    private final IoCounters counters;
    private final DriverIo[] ios;
    private final int[] free;
    private int freeTop;

    /**
     * @param bdevName the bdev the I/Os go to (completion messages name it)
     * @param depth    how many I/Os may be in flight at once
     * @param factory  makes one context, at construction only
     */
    public IoSlots(String bdevName, int depth, Supplier<I> factory) {
        this(bdevName, depth, factory, IoCounters.detached());
    }

    /**
     * @param bdevName the bdev the I/Os go to (completion messages name it)
     * @param depth    how many I/Os may be in flight at once
     * @param factory  makes one context, at construction only
     * @param counters the channel's statistics, counted as its I/Os complete
     */
    public IoSlots(String bdevName, int depth, Supplier<I> factory, IoCounters counters) {
        this.bdevName = bdevName;
        this.counters = counters;
        this.ios = new DriverIo[depth];
        this.free = new int[depth];
        for (int i = 0; i < depth; i++) {
            DriverIo io = factory.get();
            io.slots = this;
            io.slot = i;
            ios[i] = io;
            free[i] = depth - 1 - i;
        }
        freeTop = depth;
    }

    /**
     * @return a free context, its latency clock started (from within a completion callback of this
     *         channel: at that completion's clock reading); or null when all are in use
     */
    @SuppressWarnings("unchecked")
    public I take() {
        if (freeTop == 0) {
            return null;
        }
        DriverIo io = ios[free[--freeTop]];
        long inCallback = counters.callbackClock;
        io.startTicks = inCallback != 0 ? inCallback : System.nanoTime();
        return (I) io;
    }

    /** Returns a context taken from this pool (after {@link DriverIo#clear()}). */
    public void give(DriverIo io) {
        free[freeTop++] = io.slot;
    }

    /** @return contexts taken and not given back: the I/Os in flight */
    public int inUse() {
        return ios.length - freeTop;
    }

    /** @return the context in {@code slot}, free or not (for walks over a channel's I/O) */
    @SuppressWarnings("unchecked")
    public I get(int slot) {
        return (I) ios[slot];
    }

    /** @return the pool's depth */
    public int depth() {
        return ios.length;
    }

    /** @return the channel's statistics */
    public IoCounters counters() {
        return counters;
    }

    /** @return the bdev name */
    public String bdevName() {
        return bdevName;
    }
}
