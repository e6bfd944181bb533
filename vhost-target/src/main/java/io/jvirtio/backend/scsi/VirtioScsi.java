package io.jvirtio.backend.scsi;

/**
 * Wire constants of the virtio SCSI host device (virtio 1.x spec, section 5.6): feature bits,
 * queue indexes, struct sizes, response codes, control-queue types and event codes.
 */
public final class VirtioScsi {
    /** A request may carry both data-out and data-in buffers. Not offered by this device. */
    public static final int F_INOUT = 0;
    /** Hot-plug and hot-unplug events on the event queue. */
    public static final int F_HOTPLUG = 1;
    /** VIRTIO_SCSI_T_PARAM_CHANGE events; offered unless {@link ScsiModelOptions.Builder#paramChange} is off. */
    public static final int F_CHANGE = 2;
    /** T10 protection information in the request header. Not offered by this device. */
    public static final int F_T10_PI = 3;

    public static final int CONTROLQ = 0;
    public static final int EVENTQ = 1;
    public static final int REQUESTQ_BASE = 2;

    /** Bytes of the request header before the CDB: lun[8], id le64, task_attr, prio, crn. */
    public static final int REQ_HEADER_FIXED = 19;
    /** Bytes of the response header before the sense data: sense_len, residual, status_qualifier, status, response. */
    public static final int RESP_HEADER_FIXED = 12;
    /** Default and reset value of the sense_size config field. */
    public static final int DEFAULT_SENSE_SIZE = 96;
    /** Default and reset value of the cdb_size config field. */
    public static final int DEFAULT_CDB_SIZE = 32;
    /** struct virtio_scsi_event: event le32, lun[8], reason le32. */
    public static final int EVENT_SIZE = 16;
    /** struct virtio_scsi_ctrl_tmf request part: type, subtype, lun[8], id. */
    public static final int TMF_REQ_SIZE = 24;
    /** struct virtio_scsi_ctrl_tmf response part: response. */
    public static final int TMF_RESP_SIZE = 1;
    /** struct virtio_scsi_ctrl_an request part: type, lun[8], event_requested. */
    public static final int AN_REQ_SIZE = 16;
    /** struct virtio_scsi_ctrl_an response part: event_actual le32, response. */
    public static final int AN_RESP_SIZE = 5;

    // response codes
    public static final int S_OK = 0;
    public static final int S_OVERRUN = 1;
    public static final int S_ABORTED = 2;
    public static final int S_BAD_TARGET = 3;
    public static final int S_RESET = 4;
    public static final int S_BUSY = 5;
    public static final int S_TRANSPORT_FAILURE = 6;
    public static final int S_TARGET_FAILURE = 7;
    public static final int S_NEXUS_FAILURE = 8;
    public static final int S_FAILURE = 9;
    /** TMF outcome; the same value as {@link #S_OK}. */
    public static final int S_FUNCTION_COMPLETE = 0;
    public static final int S_FUNCTION_SUCCEEDED = 10;
    public static final int S_FUNCTION_REJECTED = 11;
    public static final int S_INCORRECT_LUN = 12;

    // controlq types
    public static final int T_TMF = 0;
    public static final int T_AN_QUERY = 1;
    public static final int T_AN_SUBSCRIBE = 2;

    // TMF subtypes
    public static final int T_TMF_ABORT_TASK = 0;
    public static final int T_TMF_ABORT_TASK_SET = 1;
    public static final int T_TMF_CLEAR_ACA = 2;
    public static final int T_TMF_CLEAR_TASK_SET = 3;
    public static final int T_TMF_I_T_NEXUS_RESET = 4;
    public static final int T_TMF_LOGICAL_UNIT_RESET = 5;
    public static final int T_TMF_QUERY_TASK = 6;
    public static final int T_TMF_QUERY_TASK_SET = 7;

    // events
    public static final int T_NO_EVENT = 0;
    public static final int T_TRANSPORT_RESET = 1;
    public static final int T_ASYNC_NOTIFY = 2;
    public static final int T_PARAM_CHANGE = 3;
    public static final int T_EVENTS_MISSED = 0x80000000;
    public static final int EVT_RESET_HARD = 0;
    public static final int EVT_RESET_RESCAN = 1;
    public static final int EVT_RESET_REMOVED = 2;

    private VirtioScsi() {
    }

    /** @return a name for a response code, for logs and assertion messages */
    public static String responseName(int response) {
        return switch (response) {
            case S_OK -> "OK";
            case S_OVERRUN -> "OVERRUN";
            case S_ABORTED -> "ABORTED";
            case S_BAD_TARGET -> "BAD_TARGET";
            case S_RESET -> "RESET";
            case S_BUSY -> "BUSY";
            case S_TRANSPORT_FAILURE -> "TRANSPORT_FAILURE";
            case S_TARGET_FAILURE -> "TARGET_FAILURE";
            case S_NEXUS_FAILURE -> "NEXUS_FAILURE";
            case S_FAILURE -> "FAILURE";
            case S_FUNCTION_SUCCEEDED -> "FUNCTION_SUCCEEDED";
            case S_FUNCTION_REJECTED -> "FUNCTION_REJECTED";
            case S_INCORRECT_LUN -> "INCORRECT_LUN";
            default -> "response " + response;
        };
    }
}
