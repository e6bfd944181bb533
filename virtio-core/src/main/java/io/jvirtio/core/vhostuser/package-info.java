/**
 * The vhost-user front-end (driver side, client mode): {@link io.jvirtio.core.vhostuser.VhostUserFrontend}
 * implements {@link io.jvirtio.core.VirtioBackendOps} over a back-end's unix socket, as SPDK's
 * {@code lib/virtio/virtio_user} does. One typed record per message payload, each validated at
 * the boundary; {@link io.jvirtio.core.vhostuser.VhostUserConnection} frames messages, passes fds
 * and checks every reply. Protocol: QEMU {@code docs/interop/vhost-user.rst}.
 */
package io.jvirtio.core.vhostuser;
