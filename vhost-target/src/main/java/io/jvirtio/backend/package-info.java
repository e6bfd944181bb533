/**
 * jvirtio's vhost-user device (target): serves {@link io.jvirtio.backend.device.VirtioDeviceModel}s
 * (virtio-blk, virtio-scsi) on Unix sockets, embedded ({@link io.jvirtio.backend.VhostUserTarget},
 * {@link io.jvirtio.backend.TargetServer}) or standalone ({@link io.jvirtio.backend.TargetMain}), and
 * misbehaves on request ({@link io.jvirtio.backend.fault.FaultInjector}) to test initiators.
 *
 * <p>It shares virtio-core's constants, message codecs and native calls, never its driver logic:
 * rings are consumed by the target's own device-side code, so a misreading of the spec cannot
 * cancel itself out on both sides.
 */
package io.jvirtio.backend;
