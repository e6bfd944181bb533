package io.jvirtio.scsi;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.spec.scsi.ScsiSpec;
import io.jvirtio.spec.scsi.VirtioScsiSpec;

import static io.jvirtio.spec.scsi.VirtioScsiSpec.VIRTIO_SCSI_S_OK;

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

    /**
     * The device answered a virtio-scsi response other than OK, or wrote none.
     *
     * @param command names the bdev and the command ({@code bdev d: READ (10) of 8 block(s) at LBA 0 (read at offset 0)})
     * @param usedLen the used length the device reported
     */
    static ScsiIoException response(String command, int response, int usedLen) {
        String what = response == Byte.toUnsignedInt(ScsiCmd.RESPONSE_UNSET)
                ? "completed without a response (the device did not write virtio_scsi_resp_cmd.response; used len " + usedLen + ")"
                : "failed: " + VirtioScsiSpec.responseName(response) + " (" + VirtioScsiSpec.responseMeaning(response) + ")";
        return new ScsiIoException(command + " " + what, response, -1, null);
    }

    /**
     * The LUN answered a SCSI status other than GOOD.
     *
     * @param sense   the decoded sense of a CHECK CONDITION, or null
     * @param retries how often the command had been sent again before (UNIT ATTENTION, BUSY)
     */
    static ScsiIoException status(String command, int status, ScsiSense sense, int retries) {
        StringBuilder sb = new StringBuilder(command).append(" failed: SCSI status ").append(ScsiSpec.statusName(status));
        if (sense != null) {
            sb.append(", sense ").append(sense.describe());
        } else if (status == ScsiSpec.STATUS_CHECK_CONDITION) {
            sb.append(" without valid sense data");
        }
        if (retries > 0) {
            sb.append(" (after ").append(retries).append(" retries)");
        }
        return new ScsiIoException(sb.toString(), VIRTIO_SCSI_S_OK, status, sense);
    }

    /**
     * GOOD, but a data-in command moved fewer bytes than asked (its residual is not 0).
     *
     * @param residual the device's u32 residual
     * @param asked    the bytes the command asked for
     */
    static ScsiIoException shortTransfer(String command, int residual, long asked, int usedLen) {
        return new ScsiIoException(command + " transferred " + Integer.toUnsignedString(residual)
                + " bytes less than asked (residual " + Integer.toUnsignedString(residual) + " of " + asked
                + ", used len " + usedLen + ")", VIRTIO_SCSI_S_OK, ScsiSpec.STATUS_GOOD, null);
    }

    /**
     * A task management function was answered with a response other than FUNCTION COMPLETE or
     * SUCCEEDED, or none (-1).
     *
     * @param what names the bdev and the TMF ({@code bdev d: reset (LOGICAL UNIT RESET)})
     */
    static ScsiIoException tmfResponse(String what, int response) {
        return new ScsiIoException(what + " failed: " + (response < 0 ? "the device did not write the TMF response"
                : VirtioScsiSpec.responseName(response) + " (" + VirtioScsiSpec.responseMeaning(response) + ")"), response, -1, null);
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
