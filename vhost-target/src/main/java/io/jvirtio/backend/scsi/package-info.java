/**
 * The virtio-scsi device model of the Java target (virtio spec 5.6), transport-independent: plug a
 * {@link io.jvirtio.backend.scsi.VirtioScsiModel} into the vhost-user back-end, or drive it directly.
 *
 * <pre>{@code
 * VirtioScsiModel scsi = new VirtioScsiModel(ScsiModelOptions.builder().name("scsi0").requestQueues(2).build());
 * scsi.addLun(0, 0, ScsiLun.builder(new RamBlockStore(64 << 20, false)).build());
 * scsi.addLun(0, 1, ScsiLun.builder(store).blockSize(4096).readOnly(true).thinProvisioning(false).build());
 * ... serve it (VhostUserTarget.builder().model(scsi)...), or --scsi ram:64M,targets=2,luns=2,bs=512/4096 ...
 * scsi.addLun(1, 0, lun);                 // hot-add: TRANSPORT_RESET / RESCAN on the event queue
 * scsi.removeLun(0, 1);                   // hot-remove: REMOVED; returns once nothing runs on it
 * scsi.faults().respondNext(CommandFilter.lun(0, 0), 2, VirtioScsiSpec.VIRTIO_SCSI_S_BUSY);
 * scsi.faults().failNext(1, SenseCode.UNRECOVERED_READ_ERROR);
 * scsi.faults().delayNext(CommandFilter.any(), 1, Duration.ofSeconds(5));   // a TMF can end it early
 * scsi.faults().requireStartUnit(0, 0);   // NOT READY until START STOP UNIT
 * scsi.faults().unitAttentionOnLunChange(true);
 * }</pre>
 *
 * <p>One class per concern: {@code InquiryCommand}, {@code ReportLunsCommand}, {@code CapacityCommands},
 * {@code ReadWriteCommand}, {@code ProvisioningCommands} (UNMAP, WRITE SAME), {@code ModeSenseCommand},
 * {@code UnitCommands} (TEST UNIT READY, START STOP UNIT, REQUEST SENSE, SYNCHRONIZE CACHE), dispatched by
 * {@code ScsiCommands}; {@code ControlQueueHandler} (TMF, AN) and {@code EventQueueHandler} (hot-plug events).
 */
package io.jvirtio.backend.scsi;
