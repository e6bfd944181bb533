/**
 * virtio-scsi controllers as bdevs, in the shape of SPDK's {@code module/bdev/virtio/bdev_virtio_scsi.c}
 * and past it where that falls short.
 *
 * <ul>
 *   <li>{@link io.jvirtio.scsi.VirtioScsiController}: attach over any {@code VirtioBackendOps} (vhost-user
 *       now), feature negotiation, {@code struct virtio_scsi_config} or SPDK's defaults, the fixed control
 *       (0) and event (1) queues, request queues from 2, the target scan, hot-plug events, listeners.</li>
 *   <li>{@link io.jvirtio.scsi.VirtioScsiDisk}: one bdev per LUN ({@code <ctrl>t<target>} for LUN 0 as SPDK,
 *       {@code <ctrl>t<target>l<lun>} for the others), with the block limits, provisioning and capacity
 *       the scan found.</li>
 *   <li>{@link io.jvirtio.scsi.VirtioScsiChannel}: a thread's channel to one LUN; every LUN channel of a
 *       thread shares that thread's request queue on the controller. READ/WRITE (10) or (16), split by
 *       MAXIMUM TRANSFER LENGTH, max_sectors and seg_max; SYNCHRONIZE CACHE; UNMAP within MAXIMUM UNMAP
 *       LBA COUNT and descriptor count; WRITE SAME (16) for write-zeroes; LOGICAL UNIT RESET. No
 *       allocation per I/O.</li>
 *   <li>The I/O path, on the shared driver layer ({@code io.jvirtio.bdev.driver}: argument checks,
 *       scatter-gather planning, I/O slots, the FIFO of waiting I/O): {@code ScsiRequestQueue} (how a
 *       caller I/O becomes SCSI commands on a ring), {@code ScsiCompletion} (what a completed command
 *       means), {@code ScsiCdb} (the SBC-3 CDBs and the UNMAP parameter list),
 *       {@code ScsiRetryPolicy} and {@code RetryFifo} (UNIT ATTENTION and BUSY retries, with backoff).
 *       It reaches the controller only through {@code ControllerPort}.</li>
 *   <li>Inside the controller, one class per concern: {@code RequestQueueAssignment} (which thread holds
 *       which request queue, the scan queue), {@code TargetScan} (attach scan and rescans, with
 *       {@code LunScanner}'s per-LUN commands run by {@code ScanCommandRunner}), {@code HotplugEvents} (the
 *       event queue and its thread, acting through {@code HotplugActions}) and {@code DiskRegistry} (the LUN
 *       bdevs, listeners and pending removals).</li>
 *   <li>{@link io.jvirtio.scsi.ScsiIoException} and {@link io.jvirtio.scsi.ScsiSense}: virtio-scsi responses,
 *       SCSI statuses and decoded sense (fixed and descriptor format) in every error.</li>
 * </ul>
 */
package io.jvirtio.scsi;
