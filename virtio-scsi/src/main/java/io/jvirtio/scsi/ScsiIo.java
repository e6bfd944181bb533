package io.jvirtio.scsi;

import io.jvirtio.bdev.driver.DriverIo;

/**
 * One caller I/O of a {@link VirtioScsiChannel}. Besides the shared context it knows its channel,
 * the next block to submit and, for a reset, its task management function. It becomes as many SCSI
 * commands ({@link ScsiCmd}) as the LUN's block limits, max_sectors and seg_max require;
 * {@link #remaining} counts blocks (1 for a flush until it is submitted).
 */
final class ScsiIo extends DriverIo {
    final VirtioScsiChannel channel;
    /** taken from the channel's pool: a reset waits for the active I/O submitted before it */
    boolean active;
    /** next block to submit; a reset keeps here the last seq it waits for */
    long lba;
    /** submission order on the queue: a reset waits for the I/O of its channel submitted before it */
    long seq;
    /** a reset's task management function on the control queue */
    ControlQueue.Tmf tmf;

    ScsiIo(VirtioScsiChannel channel) {
        this.channel = channel;
    }

    @Override
    protected void clear() {
        super.clear();
        active = false;
        tmf = null;
    }
}
