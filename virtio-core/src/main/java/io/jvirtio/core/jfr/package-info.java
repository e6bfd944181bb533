/**
 * JDK Flight Recorder events of the transport core, in category {@code jvirtio}:
 * {@link io.jvirtio.core.jfr.LinkDownEvent}, {@link io.jvirtio.core.jfr.LinkUpEvent} (reconnected
 * or given up) and {@link io.jvirtio.core.jfr.RingViolationEvent}. Rare paths only.
 */
package io.jvirtio.core.jfr;
