/**
 * jvirtio's vhost-user device (target): serves {@link io.jvirtio.backend.device.VirtioDeviceModel}s
 * (virtio-blk, virtio-scsi) on Unix sockets, embedded ({@link io.jvirtio.backend.VhostUserTarget},
 * {@link io.jvirtio.backend.TargetServer}) or standalone ({@link io.jvirtio.backend.TargetMain}), and
 * misbehaves on request ({@link io.jvirtio.backend.fault.FaultInjector}) to test initiators.
 *
 * <p>It shares virtio-spec's constants and wire layouts ({@code VirtioBlkSpec}, {@code VirtioScsiSpec},
 * {@code ScsiSpec}: one name for each constant on both sides), message codecs and native calls, never
 * the driver's logic: rings and requests are consumed by the target's own device-side code, so a
 * misreading of the spec cannot cancel itself out on both sides.
 */
package io.jvirtio.backend;
