package io.jvirtio.core.ring;

import io.jvirtio.spec.VirtioException;

/**
 * A virtqueue, driver side, whatever its ring format (split or packed): SPDK's request API
 * ({@code virtqueue_req_start}, {@code _add_iovs}, {@code _flush}, {@code _abort},
 * {@code virtio_recv_pkts}) over a device the queue does not trust. What the drivers and the device
 * core hold; the ring format is chosen once, at feature negotiation.
 *
 * <p>A request is {@link #reqStart started} with a cookie and a buffer count, gets its buffers with
 * {@link #reqAddIov} (device-readable first, then device-writable, as the spec requires), and is handed
 * to the device by {@link #reqFlush()} together with every other request started since the last flush.
 * {@link #poll} delivers completions to a {@link UsedSink}. A device that breaks the ring's rules breaks
 * the queue: every request in flight fails with a {@link RingViolationException} naming the
 * {@link RingViolation}, and {@link #reqStart} throws from then on.
 *
 * <p>Not thread-safe: one thread owns a queue at a time. The hot path ({@code reqStart},
 * {@code reqAddIov}, {@code reqFlush}, {@code poll}) allocates nothing.
 */
public interface Virtqueue {
    /** @return the queue's name, e.g. {@code blk0-q0} */
    String name();

    /** @return the queue index on its device */
    int index();

    /** @return the number of descriptors */
    int size();

    /** @return whether EVENT_IDX was negotiated */
    boolean eventIdx();

    /** @return descriptors per indirect table (capped at the queue size), 0 without indirect descriptors */
    int maxIndirect();

    /** @return the device address of the descriptor table (split) or descriptor ring (packed) */
    long descTableAddress();

    /** @return the device address of the driver area: the avail ring (split) or the driver event suppression structure (packed) */
    long driverAreaAddress();

    /** @return the device address of the device area: the used ring (split) or the device event suppression structure (packed) */
    long deviceAreaAddress();

    /**
     * Starts a request of up to {@code iovcnt} buffers, reserving its descriptors. A request still being
     * built is finished first (queued for the next flush), as in SPDK.
     *
     * @param cookie returned to the {@link UsedSink} when the request completes or fails; not null
     * @param iovcnt how many buffers the request will have, 1..size
     * @return false if the descriptors are not free now (poll, then retry)
     * @throws VirtioException if iovcnt can never fit, or the queue is broken ({@link RingViolationException})
     */
    boolean reqStart(Object cookie, int iovcnt);

    /**
     * Adds one buffer to the request being built. Device-readable buffers must come before
     * device-writable ones (virtio 2.7.4).
     *
     * @param address        the buffer's device address
     * @param length         its length in bytes, >= 0
     * @param deviceWritable true if the device writes it
     * @throws IllegalStateException    if no request is being built or it already has iovcnt buffers
     * @throws IllegalArgumentException on a negative length or a readable buffer after a writable one
     * @throws VirtioException          if the queue broke since reqStart
     */
    void reqAddIov(long address, int length, boolean deviceWritable);

    /**
     * Publishes every request started since the last flush and kicks the device through the
     * {@link Notifier} only if it asked. Does nothing on a broken queue (its requests have already failed).
     *
     * @throws IllegalStateException if the request being built has no buffer (it is dropped)
     */
    void reqFlush();

    /** Drops the request being built (before its flush), returning its descriptors; no-op if there is none. */
    void reqAbort();

    /**
     * Takes up to {@code max} used buffers, validates each and delivers it to {@code sink.onUsed}. A
     * violation breaks the queue and fails every request in flight through {@code sink.onError}; nothing
     * escapes as an exception except what the sink itself throws.
     *
     * @param max  the most completions to deliver
     * @param sink where completions (and, on a violation, failures) go
     * @return how many completions were delivered, failures included
     * @throws IllegalStateException if called from one of its own callbacks
     */
    int poll(int max, UsedSink sink);

    /** @return how many used buffers had a len past their writable bytes (within their buffers) and were capped */
    long overlongUsedLengths();

    /** @return true if the device has published used buffers that {@link #poll} has not taken yet */
    boolean hasUsed();

    /**
     * Polled mode (false, the default) asks the device not to interrupt; interrupt mode (true) re-arms:
     * the device signals on its next completion. After enabling, poll once more: a completion may have
     * landed before the device saw the change.
     *
     * @param enabled whether the device should interrupt (signal the call eventfd) on completions
     */
    void setInterruptsEnabled(boolean enabled);

    /** @return whether the device is asked to interrupt */
    boolean interruptsEnabled();

    /** @return true once the device broke the ring's rules */
    boolean isBroken();

    /** @return what broke the queue (the violation's message), or null when not broken */
    String brokenReason();

    /** @return the violation that broke the queue, or null when not broken */
    RingViolationException brokenCause();

    /** @return requests started, queued or published and not yet completed or failed */
    int inFlight();

    /** @return free ring descriptors */
    int freeDescriptors();

    /**
     * Fails every request in flight (started, queued or published) with {@code error} through
     * {@code sink.onError} and resets the queue to empty at the same ring position, a broken queue
     * being usable again. For when the transport died or the device is being reset; call it only while
     * the device does not touch the ring.
     *
     * @param error what each request fails with
     * @param sink  where the failures go
     * @return how many requests were failed
     */
    int failAll(VirtioException error, UsedSink sink);

    /**
     * Makes the ring ready for a new instance of the device (a back-end that was restarted): every
     * request the old one had taken and not completed is offered again, oldest first, from
     * {@link #lastUsedIndex()} on. Call only from the owner, while no device touches the ring, after
     * taking every used buffer the old device published. Error path: allocates.
     *
     * @return the ring base the new device starts from (vhost-user SET_VRING_BASE: the avail index,
     *         for a packed ring with the avail wrap counter in bit 15)
     * @throws IllegalStateException when used buffers are still untaken
     */
    int prepareReplay();

    /** Kicks the device whether or not it asked: after a restart, so it looks at what is in the ring. */
    void kick();

    /**
     * @return where the driver takes the next used buffer (16 bits: split, the used index; packed, the
     *         used slot with the used wrap counter in bit 15)
     */
    int lastUsedIndex();

    /**
     * @return how far the device has been shown buffers (16 bits: split, avail.idx; packed, the next
     *         avail slot with the avail wrap counter in bit 15), for SET_VRING_BASE / reconnect
     */
    int availIndex();
}
