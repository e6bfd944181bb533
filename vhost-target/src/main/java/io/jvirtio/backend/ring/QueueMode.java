package io.jvirtio.backend.ring;

/**
 * How a queue thread learns that the driver made chains available.
 *
 * <p>{@link #POLL} keeps driver notifications off ({@code VRING_USED_F_NO_NOTIFY}, or a stale
 * {@code avail_event} with EVENT_IDX) and spins on the avail index, as SPDK's vhost does, so the
 * driver never pays a kick and the device never pays a wake-up. After a configurable idle time it
 * switches notifications back on and waits for a kick, so an idle target does not burn its core.
 * {@link #KICK} turns notifications on after every batch and sleeps on the kick eventfd.
 */
public enum QueueMode {
    /** Sleep on the kick eventfd between batches (interrupt mode). */
    KICK,
    /** Spin on the avail index while busy; back off to the kick eventfd after an idle time. */
    POLL
}
