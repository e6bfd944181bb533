/**
 * Virtqueues, driver side: the split ring's layout ({@link io.jvirtio.spec.ring.SplitRingLayout}) and
 * the queue itself ({@link io.jvirtio.core.ring.SplitVirtqueue}) with SPDK's request API, indirect
 * descriptors, EVENT_IDX notification suppression and a hardened view of an untrusted device.
 */
package io.jvirtio.core.ring;
