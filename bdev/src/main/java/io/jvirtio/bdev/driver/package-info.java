/**
 * The part of the bdev layer that drivers build on, not storage engines: what every virtio bdev
 * front end (virtio-blk, virtio-scsi) does the same way, written once. SPDK keeps the same split
 * between the generic bdev layer and a module's {@code submit_request}.
 *
 * <ul>
 *   <li>{@link io.jvirtio.bdev.driver.BdevLimits} and {@link io.jvirtio.bdev.driver.IoValidator}:
 *       one set of argument rules and messages; what legitimately differs per device is data.</li>
 *   <li>{@link io.jvirtio.bdev.driver.SgCursor}: plans one request's data segments in one pass
 *       over the caller's iovecs.</li>
 *   <li>{@link io.jvirtio.bdev.driver.DriverIo}, {@link io.jvirtio.bdev.driver.IoSlots},
 *       {@link io.jvirtio.bdev.driver.PendingFifo}: pooled caller I/O contexts and the FIFO of
 *       I/O waiting for ring space.</li>
 *   <li>{@link io.jvirtio.bdev.driver.DriverRequest} and
 *       {@link io.jvirtio.bdev.driver.DriverRequestQueue}: the life cycle of a request queue
 *       (advance an I/O request by request, complete it, fail or abandon everything); the driver
 *       supplies only "this request becomes these descriptors".</li>
 * </ul>
 *
 * <p>Nothing here allocates, locks or makes a syscall per I/O. Storage engines program against
 * {@code io.jvirtio.bdev} only.
 */
package io.jvirtio.bdev.driver;
