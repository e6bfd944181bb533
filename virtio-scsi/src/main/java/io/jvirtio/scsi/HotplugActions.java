package io.jvirtio.scsi;

import java.util.Collection;

/**
 * What hot-plug events may do to a controller's LUNs: {@link HotplugEvents}' whole view of it.
 * Called under the controller's scan lock.
 */
interface HotplugActions {
    /** @return the targets scanned: 0..targetCount-1 */
    int targetCount();

    /** A LUN was hot-unplugged (VIRTIO_SCSI_EVT_RESET_REMOVED): its bdev starts going, if there is one. */
    void removeLun(int target, int lun, String reason);

    /** @return false when no request queue was free for the scan (it is to be asked for again) */
    boolean rescanAll();

    /** @return false when no request queue was free for the scan (it is to be asked for again) */
    boolean rescan(Collection<Integer> targets);

    /** Tells listeners of removed bdevs whose I/O has drained. */
    void announceDrainedRemovals();
}
