package io.jvirtio.scsi;

import io.jvirtio.spec.scsi.ScsiSpec;

import static io.jvirtio.spec.scsi.VirtioScsiSpec.VIRTIO_SCSI_S_BUSY;
import static io.jvirtio.spec.scsi.VirtioScsiSpec.VIRTIO_SCSI_S_OK;

/**
 * When a caller I/O's SCSI command that came back unsuccessful is sent again, unchanged: after a
 * UNIT ATTENTION at once (each report clears one condition, SPC-4 5.14), after BUSY, TASK SET FULL
 * or VIRTIO_SCSI_S_BUSY after a pause that doubles each time. Both are bounded; the counts live in
 * the command, so a command's retries are its own. Stateless; allocates nothing.
 *
 * <p>Scan commands follow their own, blocking rule ({@link ScanCommandRunner}).
 */
final class ScsiRetryPolicy {
    /** Retries of a command answered UNIT ATTENTION. */
    static final int MAX_UNIT_ATTENTION_RETRIES = 5;
    /** Retries of a command answered BUSY / TASK SET FULL / VIRTIO_SCSI_S_BUSY. */
    static final int MAX_BUSY_RETRIES = 8;
    /** Pause before the first BUSY retry; doubled each time (100 µs .. 12.8 ms). */
    static final long BUSY_BACKOFF_NANOS = 100_000;

    /** What an unsuccessful answer asks for. */
    enum Decision {
        /** no retry (left, or that answer is final): the command fails with it */
        FAIL,
        /** resend now; the unit attention is worth telling the controller about */
        RETRY_UNIT_ATTENTION,
        /** resend after {@link #busyPauseNanos} */
        RETRY_BUSY
    }

    private ScsiRetryPolicy() {
    }

    /**
     * Decides on an answer other than OK/GOOD, and counts the retry in {@code cmd} when there is one.
     *
     * @param response the virtio-scsi response
     * @param status   the SCSI status (meaningful when {@code response} is OK)
     * @param sense    the decoded sense of a CHECK CONDITION, or null
     */
    static Decision decide(ScsiCmd cmd, int response, int status, ScsiSense sense) {
        if (response == VIRTIO_SCSI_S_OK) {
            if (status == ScsiSpec.STATUS_CHECK_CONDITION) {
                if (sense != null && sense.isUnitAttention() && cmd.unitAttentionRetries < MAX_UNIT_ATTENTION_RETRIES) {
                    cmd.unitAttentionRetries++;
                    return Decision.RETRY_UNIT_ATTENTION;
                }
                return Decision.FAIL;
            }
            return ScsiSpec.isBusyStatus(status) ? busy(cmd) : Decision.FAIL;
        }
        return response == VIRTIO_SCSI_S_BUSY ? busy(cmd) : Decision.FAIL;
    }

    private static Decision busy(ScsiCmd cmd) {
        if (cmd.busyRetries < MAX_BUSY_RETRIES) {
            cmd.busyRetries++;
            return Decision.RETRY_BUSY;
        }
        return Decision.FAIL;
    }

    /** @return the pause before the BUSY retry {@link #decide} just counted: 100 µs, doubled per retry */
    static long busyPauseNanos(ScsiCmd cmd) {
        return BUSY_BACKOFF_NANOS << (cmd.busyRetries - 1);
    }

    /** @return the retries {@code cmd} had, for the message it fails with */
    static int retries(ScsiCmd cmd) {
        return cmd.unitAttentionRetries + cmd.busyRetries;
    }
}
