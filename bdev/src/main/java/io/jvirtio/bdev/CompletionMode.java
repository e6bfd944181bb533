package io.jvirtio.bdev;

import java.time.Duration;
import java.util.Objects;

/**
 * How {@link IoChannel#waitForCompletions} waits when nothing has completed: by polling the ring (the
 * default, SPDK's way: lowest latency, a core spent), by sleeping on the channel's completion fd
 * (libblkio's completion fd, QEMU's call eventfd: the device signals, the thread wakes), or adaptively —
 * polling for a while after the last completion, then sleeping — so an idle channel costs ~no CPU while a
 * busy one keeps polling's latency.
 *
 * <p>In the modes that sleep, used-buffer notifications are enabled on the ring only just before the
 * thread sleeps (and the ring is checked once more after that, so a completion that landed meanwhile is
 * never waited for), and disabled again once it wakes, as Linux's virtqueue_enable_cb / disable_cb: a busy
 * channel does not make the device signal every completion.
 */
public final class CompletionMode {
    private static final CompletionMode POLLING = new CompletionMode(Kind.POLLING, Duration.ZERO);
    private static final CompletionMode INTERRUPT = new CompletionMode(Kind.INTERRUPT, Duration.ZERO);

    /** The three ways. */
    public enum Kind {
        /** Spin on the used ring; never sleep. */
        POLLING,
        /** Sleep on the completion fd as soon as nothing is there. */
        INTERRUPT,
        /** Spin for {@link #spin()} after the last completion, then sleep on the completion fd. */
        ADAPTIVE
    }

    private final Kind kind;
    private final Duration spin;

    private CompletionMode(Kind kind, Duration spin) {
        this.kind = kind;
        this.spin = spin;
    }

    /** @return spin on the used ring, never sleep (the default) */
    public static CompletionMode polling() {
        return POLLING;
    }

    /** @return sleep on the completion fd whenever nothing has completed */
    public static CompletionMode interrupt() {
        return INTERRUPT;
    }

    /**
     * @param spin how long to keep polling after the last completion before sleeping; positive
     * @return the adaptive mode
     * @throws IllegalArgumentException if spin is not positive
     */
    public static CompletionMode adaptive(Duration spin) {
        Objects.requireNonNull(spin, "spin");
        if (spin.isNegative() || spin.isZero()) {
            throw new IllegalArgumentException("adaptive completion mode: spin " + spin + " must be positive");
        }
        return new CompletionMode(Kind.ADAPTIVE, spin);
    }

    /** @return which way */
    public Kind kind() {
        return kind;
    }

    /** @return the polling time after the last completion (ADAPTIVE), zero otherwise */
    public Duration spin() {
        return spin;
    }

    /** @return whether this mode ever sleeps (needs a completion fd) */
    public boolean sleeps() {
        return kind != Kind.POLLING;
    }

    /** @return nanoseconds to poll after the last completion before sleeping; -1 = never sleep */
    public long spinNanos() {
        return switch (kind) {
            case POLLING -> -1;
            case INTERRUPT -> 0;
            case ADAPTIVE -> spin.toNanos();
        };
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CompletionMode m && m.kind == kind && m.spin.equals(spin);
    }

    @Override
    public int hashCode() {
        return kind.hashCode() * 31 + spin.hashCode();
    }

    /** @return {@code polling}, {@code interrupt} or {@code adaptive(50us)} */
    @Override
    public String toString() {
        return switch (kind) {
            case POLLING -> "polling";
            case INTERRUPT -> "interrupt";
            case ADAPTIVE -> "adaptive(" + (spin.toNanos() % 1000 == 0 ? spin.toNanos() / 1000 + "us" : spin.toNanos() + "ns") + ")";
        };
    }
}
