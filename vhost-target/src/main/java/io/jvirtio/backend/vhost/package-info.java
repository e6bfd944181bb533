/**
 * The back-end side of the vhost-user protocol (QEMU {@code docs/interop/vhost-user.rst}): one
 * {@link io.jvirtio.backend.vhost.VhostUserSession} per front-end connection, validating every
 * message at the boundary, mapping the front-end's memory, starting and stopping rings.
 */
package io.jvirtio.backend.vhost;
