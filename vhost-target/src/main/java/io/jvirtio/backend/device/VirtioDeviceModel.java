package io.jvirtio.backend.device;

import java.lang.foreign.MemorySegment;

/**
 * The device half of a virtio device, independent of the transport (DPDK's {@code vhost_device_ops}
 * plus the request handler; QEMU's {@code VuDevIface}): which device it is, its features and
 * config space, and what it does with each request. The vhost-user back-end owns the rings and
 * calls these from its queue threads.
 */
public interface VirtioDeviceModel extends AutoCloseable {
    /** virtio device IDs (virtio 1.x spec section 5). */
    int VIRTIO_ID_BLOCK = 2;
    int VIRTIO_ID_SCSI = 8;

    /** @return {@link #VIRTIO_ID_BLOCK} or {@link #VIRTIO_ID_SCSI} */
    int deviceId();

    /** @return a name for logs */
    String name();

    /** @return the features the device offers: device-specific, ring and VIRTIO_F_VERSION_1 bits */
    long deviceFeatures();

    /** Called once the driver's feature set is final (SET_FEATURES). */
    void featuresNegotiated(long features);

    /** @return the number of queues the device has (all of them: scsi's control and event queues included) */
    int numQueues();

    /**
     * @return whether queue {@code queueIndex} carries I/O requests, so that a polling transport
     *         spins on it; queues that see a request now and then (virtio-scsi's control and event
     *         queues) wait for kicks whatever the mode, so they do not take a core from the I/O queues
     */
    default boolean isRequestQueue(int queueIndex) {
        return true;
    }

    /** @return the size in bytes of the config space */
    int configSize();

    /** Copies {@code dst.byteSize()} bytes of config space at {@code offset}; the caller checked the bounds. */
    void readConfig(int offset, MemorySegment dst);

    /** Writes {@code src} into config space at {@code offset} (writable fields only); the caller checked the bounds. */
    void writeConfig(int offset, MemorySegment src);

    /**
     * Handles one request, on the thread of its queue. The model completes it, now or later,
     * exactly once.
     */
    void handle(DeviceRequest request);

    /**
     * The queue stopped (GET_VRING_BASE, reset, disconnect): requests of that queue the model still
     * holds will never be completed and must be forgotten.
     */
    void queueStopped(int queueIndex);

    /** Device reset: forget every held request and negotiated state. */
    void reset();

    /** Releases what the model owns (its storage is closed by whoever opened it). */
    @Override
    void close();
}
