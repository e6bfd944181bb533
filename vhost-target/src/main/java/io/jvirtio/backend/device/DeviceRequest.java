package io.jvirtio.backend.device;

import java.lang.foreign.MemorySegment;

/**
 * One request popped from a virtqueue, as a device model sees it: the driver's buffers already
 * translated into this process's mappings of front-end memory, checked against the memory table,
 * in chain order (device-readable first, then device-writable, as the spec requires).
 *
 * <p>A model completes each request exactly once, from any thread ({@link #complete} is
 * thread-safe): at once for most requests, later for those it holds (the scsi event queue, a
 * delayed completion).
 */
public interface DeviceRequest {
    /** @return the index of the queue the request came from */
    int queueIndex();

    /** @return the number of device-readable buffers */
    int readableCount();

    /** @return device-readable buffer {@code i} (driver → device) */
    MemorySegment readable(int i);

    /** @return the number of device-writable buffers */
    int writableCount();

    /** @return device-writable buffer {@code i} (device → driver) */
    MemorySegment writable(int i);

    /** @return the total size of the readable buffers */
    long readableBytes();

    /** @return the total size of the writable buffers */
    long writableBytes();

    /**
     * Puts the request on the used ring and notifies the driver if it asked.
     *
     * @param bytesWritten how many bytes the device wrote into the writable buffers (the used element's len)
     */
    void complete(int bytesWritten);
}
