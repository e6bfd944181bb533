package io.jvirtio.core;

import io.jvirtio.spec.VirtioStatus;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.OptionalInt;

/**
 * One transport's view of a virtio device (SPDK's {@code struct virtio_dev_ops}): vhost-user now,
 * virtio-pci over VFIO later. {@link VirtioDevice} drives the virtio state machine through these
 * calls and knows nothing else of the transport.
 *
 * <p>Every call but {@link #notifyQueue} is a setup-time call and may block on the transport.
 * {@link #notifyQueue} is on the I/O path: no allocation, at most one syscall.
 *
 * <p>What a transport cannot do is an answer, not a failure: a config access it has no means for
 * throws {@link TransportUnsupportedException}; a queue count it does not know is an empty
 * {@link #getMaxQueues()}.
 */
public interface VirtioBackendOps {
    /** @return a short name for the transport type as SPDK prints it: {@code "user"}, {@code "pci-modern"} */
    String transportType();

    /**
     * Reads {@code dst.byteSize()} bytes of device config space starting at {@code offset}.
     *
     * @throws TransportUnsupportedException when the transport cannot read config space (the
     *         transport stays usable; any other exception is a failure of the transport or device)
     */
    void readDevConfig(long offset, MemorySegment dst);

    /**
     * Writes {@code src} into device config space at {@code offset}.
     *
     * @throws TransportUnsupportedException when the transport cannot write config space
     */
    void writeDevConfig(long offset, MemorySegment src);

    /** @return the device status byte ({@link VirtioStatus}) */
    int getStatus();

    /** Sets the device status byte; {@link VirtioStatus#RESET} resets (stops every queue). */
    void setStatus(int status);

    /** @return the feature bits the device offers (device bits only; transport bits are the backend's business) */
    long getFeatures();

    /** Tells the device which of its features the driver accepted. */
    void setFeatures(long features);

    /**
     * @return how many queues the device has as the transport reports it (vhost-user GET_QUEUE_NUM),
     *         or empty when the transport does not know: the driver then goes by the device's config
     *         and by what it was asked for, and {@link #setupQueue} refuses an index the transport
     *         cannot address
     */
    OptionalInt getMaxQueues();

    /** @return the largest size queue {@code index} may have */
    int getQueueSize(int index);

    /** Gives the device one queue's addresses; effective once the device is started (DRIVER_OK). */
    void setupQueue(QueueSetup queue);

    /**
     * Stops and forgets a queue.
     *
     * @return the device's next avail index for it (vhost-user GET_VRING_BASE), or -1 when unknown
     */
    int deleteQueue(int index);

    /** Kicks queue {@code index}: the driver made buffers available. Hot path. */
    void notifyQueue(int index);

    /**
     * The eventfd the device signals when it used buffers of queue {@code index} and the driver asked
     * for it (used-buffer notifications enabled on the ring): what an interrupt-mode channel sleeps on,
     * libblkio's completion fd. Owned by the transport; it may change when the link is re-established.
     * The default, for transports that only poll (the PCI transport sets up no MSI-X vector), is -1.
     *
     * @return the fd, or -1 when the queue has none (not set up, link down, or a polling-only transport)
     */
    default int completionFd(int index) {
        return -1;
    }

    /**
     * Sets the one listener told when the peer goes away on its own (a vhost-user hang-up). A
     * transport that cannot lose its peer (a PCI function stays until it is unbound) never calls it:
     * the default does nothing. Told at once when the peer is already gone.
     */
    default void setTransportListener(TransportListener listener) {
    }

    /**
     * After the peer was lost: connects to it again and negotiates the transport as on the first
     * connect, leaving the device as if just reset (no queue set up, status RESET) but keeping the
     * memory the device reaches. The device core then negotiates features and sets queues up again.
     *
     * @throws TransportUnsupportedException when the transport cannot reconnect (the default)
     * @throws io.jvirtio.spec.vhostuser.VhostUserException when the peer cannot be reached yet
     *         ({@code shouldReconnect}) or came back different (not {@code shouldReconnect})
     */
    default void reconnect() {
        throw new TransportUnsupportedException(transportType() + " transport cannot reconnect");
    }

    /** Closes the transport: disconnects, closes fds. Idempotent. */
    void destruct();

    /** @return SPDK's {@code driver_specific.virtio} fields for this transport, e.g. {@code type}, {@code socket} */
    Map<String, Object> dumpJsonInfo();

    /** @return SPDK's {@code bdev_virtio_attach_controller} params for this transport: {@code trtype}, {@code traddr}, ... */
    Map<String, Object> writeJsonConfig();
}
