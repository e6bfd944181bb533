package io.jvirtio.scsi;

import io.jvirtio.spec.scsi.VirtioScsiSpec;

import io.jvirtio.bdev.BdevIoException;

/**
 * A SCSI command failed: the device answered a virtio-scsi response other than OK, or a SCSI status
 * other than GOOD (with CHECK CONDITION, the decoded sense). The message names the bdev, the
 * command and everything the device said.
 */
public class ScsiIoException extends BdevIoException {
    private static final long serialVersionUID = 1L;

    private final int response;
    private final int status;
    private final transient ScsiSense sense;

    /**
     * @param message  names the bdev, the command and what the device answered
     * @param response the virtio-scsi response code ({@link VirtioScsiSpec#VIRTIO_SCSI_S_OK} when the failure is in the status)
     * @param status   the SCSI status byte, or -1 when the command did not reach the LUN
     * @param sense    the decoded sense data, or null
     */
    public ScsiIoException(String message, int response, int status, ScsiSense sense) {
        super(Reason.DEVICE_STATUS, message);
        this.response = response;
        this.status = status;
        this.sense = sense;
    }

    /** @return the virtio-scsi response code ({@code VIRTIO_SCSI_S_*}) */
    public int response() {
        return response;
    }

    /** @return the SCSI status byte, or -1 */
    public int status() {
        return status;
    }

    /** @return the decoded sense data of a CHECK CONDITION, or null */
    public ScsiSense sense() {
        return sense;
    }
}
