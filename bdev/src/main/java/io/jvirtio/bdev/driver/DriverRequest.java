package io.jvirtio.bdev.driver;

/**
 * One device request of a request queue (a virtio-blk request, a SCSI command): its headers live in
 * device memory, carved once and reused; the ring cookie. Drivers extend it with their layout.
 *
 * @param <I> the driver's I/O context
 */
public abstract class DriverRequest<I extends DriverIo> {
    /** the request's index in its queue's pool */
    public final int slot;
    /** the caller I/O it carries part of; null when free, driver-internal or orphaned */
    public I io;
    /** its I/O gave up on it (the channel closed) while the device still holds it: freed when it comes back */
    public boolean orphan;

    /** @param slot the request's index in its queue's pool */
    protected DriverRequest(int slot) {
        this.slot = slot;
    }

    /** The request is free again: forgets its I/O; drivers clear their own fields, then call this. */
    protected void clear() {
        io = null;
        orphan = false;
    }
}
