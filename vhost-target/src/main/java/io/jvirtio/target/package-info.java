/**
 * jvirtio's vhost-user device (target): serves {@link io.jvirtio.target.device.VirtioDeviceModel}s
 * (virtio-blk, virtio-scsi) on Unix sockets, embedded ({@link io.jvirtio.target.VhostUserTarget},
 * {@link io.jvirtio.target.TargetServer}) or standalone ({@link io.jvirtio.target.TargetMain}), and
 * misbehaves on request ({@link io.jvirtio.target.fault.FaultInjector}) to test initiators.
 *
 * <p>It shares virtio-core's constants, message codecs and native calls, never its driver logic:
 * rings are consumed by the target's own device-side code, so a misreading of the spec cannot
 * cancel itself out on both sides.
 */
package io.jvirtio.target;
