/**
 * JDK Flight Recorder events of the bdev layer and the drivers, all in category {@code jvirtio}:
 * {@link io.jvirtio.bdev.jfr.AttachEvent}, {@link io.jvirtio.bdev.jfr.DetachEvent},
 * {@link io.jvirtio.bdev.jfr.IoErrorEvent} and the periodic
 * {@link io.jvirtio.bdev.jfr.BdevStatisticsEvent}. Link and ring events are in
 * {@code io.jvirtio.core.jfr}. Events are created only on rare paths (attach, detach, a failed I/O)
 * or by JFR's periodic hook; a successful I/O never creates one.
 */
package io.jvirtio.bdev.jfr;
