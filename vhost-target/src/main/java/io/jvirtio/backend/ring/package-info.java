/**
 * The device side of split virtqueues: popping available chains (direct and indirect) into
 * {@link io.jvirtio.backend.device.DeviceRequest}s, publishing used elements with release semantics,
 * notification suppression both ways (EVENT_IDX, NO_NOTIFY / NO_INTERRUPT), the INFLIGHT_SHMFD log,
 * and a thread per queue. Nothing the driver wrote is trusted before it is checked.
 */
package io.jvirtio.backend.ring;
