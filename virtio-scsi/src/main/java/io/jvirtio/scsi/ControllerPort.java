package io.jvirtio.scsi;

import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.ring.Virtqueue;

/**
 * The controller as its I/O path sees it: what a {@link ScsiRequestQueue} and the
 * {@link VirtioScsiChannel}s on it ask of the controller, and nothing else. The I/O path never
 * holds the controller itself.
 */
interface ControllerPort {
    /** @return the controller name, for messages */
    String name();

    /** @return the memory the device can reach: command headers and the callers' buffers */
    MemoryDomain memory();

    /** @return the device's configuration (request and sense sizes, seg_max) */
    VirtioScsiConfig config();

    /** @return the most descriptors one command may chain on a queue of {@code queueSize} */
    int maxChainDescriptors(int queueSize);

    /** @return whether the controller was closed: I/O is refused and what is in flight fails */
    boolean isDeviceClosed();

    /** @return why the transport lost its peer ("vhost-user back-end on PATH disconnected"), null while it has it */
    String transportLost();

    /**
     * @return whether new I/O is refused now: the link is down without a reconnect policy, past
     *         fast_io_fail_timeout_sec, or given up (while a reconnect may still bring it back, I/O waits)
     */
    boolean refusesIo();

    /** @return what I/O fails with while the link is down (null while it is up) */
    String linkDownMessage();

    /**
     * For a queue's owner, from its poll, while {@link #transportLost()} is not null and after it took
     * every used element: keep waiting, fail everything, or resume (the new target has the ring).
     *
     * @return {@code VirtioDevice.LINK_WAIT}, {@code LINK_FAIL} or {@code LINK_RESUMED}
     */
    int linkDownStep(Virtqueue vq);

    /** @return a counter that moves each time a LUN is removed: a queue then looks for drained channels */
    int removalEpoch();

    /** @return the control queue, for the LOGICAL UNIT RESET a channel's reset sends */
    ControlQueue control();

    /** A command saw BAD_TARGET or INCORRECT_LUN: the target is rescanned at the next event poll. */
    void requestRescan(int target);

    /** A command met a UNIT ATTENTION (it is retried); some ask for a rescan. */
    void unitAttention(int target, int lunAddress, ScsiSense sense);

    /** @return the transport's name ({@code user}, {@code pci}), for messages */
    String transportType();

    /** @return the completion eventfd of one of the controller's queues as the transport has it now, or -1 */
    int completionFd(Virtqueue vq);

    /** A channel closed: its thread's queue may go back to the pool. */
    void channelClosed(VirtioScsiChannel channel);
}
