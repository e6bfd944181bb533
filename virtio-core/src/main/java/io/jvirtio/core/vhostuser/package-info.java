/**
 * The vhost-user front-end (driver side, client mode): {@link io.jvirtio.core.vhostuser.VhostUserFrontend}
 * implements {@link io.jvirtio.core.VirtioBackendOps} over a back-end's unix socket, as SPDK's
 * {@code lib/virtio/virtio_user} does. One typed record per message payload, each validated at
 * the boundary; {@link io.jvirtio.core.vhostuser.VhostUserConnection} frames messages, passes fds
 * and checks every reply; its failures say whether a reconnect could help
 * ({@link io.jvirtio.spec.vhostuser.VhostUserException#shouldReconnect()}).
 * {@link io.jvirtio.core.vhostuser.VhostUserAttach} is how drivers attach over it. Protocol: QEMU
 * {@code docs/interop/vhost-user.rst}.
 */
package io.jvirtio.core.vhostuser;
