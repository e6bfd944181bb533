package io.jvirtio.scsi;

import io.jvirtio.spec.scsi.ScsiSpec;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static io.jvirtio.scsi.ScsiRetryPolicy.Decision.FAIL;
import static io.jvirtio.scsi.ScsiRetryPolicy.Decision.RETRY_BUSY;
import static io.jvirtio.scsi.ScsiRetryPolicy.Decision.RETRY_UNIT_ATTENTION;
import static io.jvirtio.spec.scsi.VirtioScsiSpec.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@link ScsiRetryPolicy}: which answers are retried, how often, and the BUSY backoff. */
class ScsiRetryPolicyTest {
    private static final ScsiSense UNIT_ATTENTION = new ScsiSense(0x70, ScsiSpec.KEY_UNIT_ATTENTION, 0x29, 0x00, -1, 18);
    private static final ScsiSense MEDIUM_ERROR = new ScsiSense(0x70, ScsiSpec.KEY_MEDIUM_ERROR, 0x11, 0x00, -1, 18);

    private static ScsiCmd cmd() {
        return new ScsiCmd(0, 0, MemorySegment.ofArray(new byte[512]), 51, 56, 108, 168);
    }

    @Test
    void unitAttentionIsRetriedAtOnceFiveTimes() {
        ScsiCmd cmd = cmd();
        for (int i = 1; i <= ScsiRetryPolicy.MAX_UNIT_ATTENTION_RETRIES; i++) {
            assertEquals(RETRY_UNIT_ATTENTION, ScsiRetryPolicy.decide(cmd, VIRTIO_SCSI_S_OK, ScsiSpec.STATUS_CHECK_CONDITION, UNIT_ATTENTION));
            assertEquals(i, ScsiRetryPolicy.retries(cmd));
        }
        assertEquals(FAIL, ScsiRetryPolicy.decide(cmd, VIRTIO_SCSI_S_OK, ScsiSpec.STATUS_CHECK_CONDITION, UNIT_ATTENTION));
        assertEquals(5, ScsiRetryPolicy.MAX_UNIT_ATTENTION_RETRIES);
        assertEquals(5, ScsiRetryPolicy.retries(cmd), "a refused retry is not counted");
    }

    @Test
    void otherCheckConditionsAreFinal() {
        ScsiCmd cmd = cmd();
        assertEquals(FAIL, ScsiRetryPolicy.decide(cmd, VIRTIO_SCSI_S_OK, ScsiSpec.STATUS_CHECK_CONDITION, MEDIUM_ERROR));
        assertEquals(FAIL, ScsiRetryPolicy.decide(cmd, VIRTIO_SCSI_S_OK, ScsiSpec.STATUS_CHECK_CONDITION, null));
        assertEquals(0, ScsiRetryPolicy.retries(cmd));
    }

    @Test
    void busyTaskSetFullAndVirtioBusyBackOffEightTimes() {
        int[][] answers = {
                {VIRTIO_SCSI_S_OK, ScsiSpec.STATUS_BUSY},
                {VIRTIO_SCSI_S_OK, ScsiSpec.STATUS_TASK_SET_FULL},
                {VIRTIO_SCSI_S_BUSY, -1},
        };
        for (int[] a : answers) {
            ScsiCmd cmd = cmd();
            long pause = ScsiRetryPolicy.BUSY_BACKOFF_NANOS;
            for (int i = 1; i <= ScsiRetryPolicy.MAX_BUSY_RETRIES; i++) {
                assertEquals(RETRY_BUSY, ScsiRetryPolicy.decide(cmd, a[0], a[1], null));
                assertEquals(pause, ScsiRetryPolicy.busyPauseNanos(cmd), "retry " + i + " waits " + pause + " ns");
                pause <<= 1;
            }
            assertEquals(FAIL, ScsiRetryPolicy.decide(cmd, a[0], a[1], null));
            assertEquals(8, ScsiRetryPolicy.MAX_BUSY_RETRIES);
            assertEquals(12_800_000L, ScsiRetryPolicy.busyPauseNanos(cmd), "the last pause is 12.8 ms");
        }
    }

    @Test
    void unitAttentionAndBusyCountApart() {
        ScsiCmd cmd = cmd();
        assertEquals(RETRY_BUSY, ScsiRetryPolicy.decide(cmd, VIRTIO_SCSI_S_BUSY, -1, null));
        assertEquals(RETRY_UNIT_ATTENTION, ScsiRetryPolicy.decide(cmd, VIRTIO_SCSI_S_OK, ScsiSpec.STATUS_CHECK_CONDITION, UNIT_ATTENTION));
        assertEquals(2, ScsiRetryPolicy.retries(cmd));
        assertEquals(ScsiRetryPolicy.BUSY_BACKOFF_NANOS, ScsiRetryPolicy.busyPauseNanos(cmd));
    }

    @Test
    void otherResponsesAndStatusesAreFinal() {
        ScsiCmd cmd = cmd();
        for (int response : new int[] {VIRTIO_SCSI_S_BAD_TARGET, VIRTIO_SCSI_S_INCORRECT_LUN, VIRTIO_SCSI_S_RESET, VIRTIO_SCSI_S_ABORTED,
                VIRTIO_SCSI_S_TRANSPORT_FAILURE, VIRTIO_SCSI_S_FAILURE, 0xFF}) {
            assertEquals(FAIL, ScsiRetryPolicy.decide(cmd, response, -1, null), "response " + response);
        }
        assertEquals(FAIL, ScsiRetryPolicy.decide(cmd, VIRTIO_SCSI_S_OK, ScsiSpec.STATUS_RESERVATION_CONFLICT, null));
        assertEquals(0, ScsiRetryPolicy.retries(cmd));
    }
}
