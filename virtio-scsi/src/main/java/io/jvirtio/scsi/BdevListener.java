package io.jvirtio.scsi;

import io.jvirtio.bdev.Bdev;

/**
 * Learns of LUN bdevs appearing and going on a {@link VirtioScsiController} after its attach (the
 * bdevs found by the attach scan are in {@link VirtioScsiController#bdevs()}). Called from
 * {@link VirtioScsiController#pollEvents()} (or the controller's event thread), never from an I/O
 * thread's {@code poll}; must not block for long.
 */
public interface BdevListener {
    /** A rescan (an event, or {@link VirtioScsiController#rescan()}) found a new LUN. */
    void bdevAdded(Bdev bdev);

    /**
     * A LUN went (hot-unplug event, or a rescan no longer finds it). Called once no channel of the
     * bdev has I/O in flight: every I/O submitted to it has completed (with an error if it completed
     * after the removal was seen); new submissions are refused.
     */
    void bdevRemoved(Bdev bdev);
}
