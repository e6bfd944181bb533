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

    /*
     * Allocation-free access for the hot path: buffer i is [offset(i), +length(i)) of memory(i),
     * the segment of the whole mapped region (a transport that has slices anyway answers with the
     * slice, offset 0). readable(i) / writable(i) may build a slice on every call.
     */

    /** @return the segment that holds readable buffer {@code i} */
    default MemorySegment readableMemory(int i) {
        return readable(i);
    }

    /** @return where readable buffer {@code i} starts in {@link #readableMemory} */
    default long readableOffset(int i) {
        return 0;
    }

    /** @return the length of readable buffer {@code i} */
    default long readableLength(int i) {
        return readable(i).byteSize();
    }

    /** @return the segment that holds writable buffer {@code i} */
    default MemorySegment writableMemory(int i) {
        return writable(i);
    }

    /** @return where writable buffer {@code i} starts in {@link #writableMemory} */
    default long writableOffset(int i) {
        return 0;
    }

    /** @return the length of writable buffer {@code i} */
    default long writableLength(int i) {
        return writable(i).byteSize();
    }

    /** @return the total size of the readable buffers */
    long readableBytes();

    /** @return the total size of the writable buffers */
    long writableBytes();

    /**
     * @return the object a model attached to this request with {@link #attach}, or null. Transports
     *         reuse request objects (the ring has one per descriptor head or buffer id), so a model can
     *         keep its per-command state there instead of allocating it for every command.
     */
    default Object attachment() {
        return null;
    }

    /**
     * Attaches {@code o} to this request object for as long as the object lives (its queue runs).
     *
     * @return whether the request keeps it; false when the transport makes a request object per
     *         request (then the model makes its state per request too)
     */
    default boolean attach(Object o) {
        return false;
    }

    /**
     * Puts the request on the used ring and notifies the driver if it asked.
     *
     * @param bytesWritten how many bytes the device wrote into the writable buffers (the used element's len)
     */
    void complete(int bytesWritten);
}
