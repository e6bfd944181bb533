/**
 * Virtqueues, driver side: what drivers hold ({@link io.jvirtio.core.ring.Virtqueue}, SPDK's request
 * API) and the split ring behind it ({@link io.jvirtio.core.ring.SplitVirtqueue}, over
 * {@link io.jvirtio.spec.ring.SplitRingLayout}) with indirect descriptors, EVENT_IDX notification
 * suppression and a hardened view of an untrusted device.
 */
package io.jvirtio.core.ring;
