package io.jvirtio.spec.scsi;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * virtio-scsi wire constants (virtio 1.x spec section 5.6), with the spec's names: feature bits,
 * queue indexes, the offsets of {@code struct virtio_scsi_config}, of the command request and
 * response headers, of the task management and event structures, response codes and event codes.
 */
public final class VirtioScsiSpec {
    // 5.6.3 Feature bits
    /** {@code VIRTIO_SCSI_F_INOUT}: a request may carry data-out and data-in buffers. */
    public static final int VIRTIO_SCSI_F_INOUT = 0;
    /** {@code VIRTIO_SCSI_F_HOTPLUG}: the device reports hot-plug and hot-unplug on the event queue. */
    public static final int VIRTIO_SCSI_F_HOTPLUG = 1;
    /** {@code VIRTIO_SCSI_F_CHANGE}: the device reports parameter changes (VIRTIO_SCSI_T_PARAM_CHANGE). */
    public static final int VIRTIO_SCSI_F_CHANGE = 2;
    /** {@code VIRTIO_SCSI_F_T10_PI}: protection information in the request header (not used by jvirtio). */
    public static final int VIRTIO_SCSI_F_T10_PI = 3;

    // 5.6.2 Virtqueues
    public static final int CONTROLQ = 0;
    public static final int EVENTQ = 1;
    public static final int REQUESTQ_BASE = 2;
    /** Queues that are not request queues: control and event. */
    public static final int FIXED_QUEUES = 2;

    // 5.6.4 struct virtio_scsi_config offsets (all le32 but max_channel / max_target, le16)
    public static final int CFG_NUM_QUEUES = 0;
    public static final int CFG_SEG_MAX = 4;
    public static final int CFG_MAX_SECTORS = 8;
    public static final int CFG_CMD_PER_LUN = 12;
    public static final int CFG_EVENT_INFO_SIZE = 16;
    public static final int CFG_SENSE_SIZE = 20;
    public static final int CFG_CDB_SIZE = 24;
    public static final int CFG_MAX_CHANNEL = 28;
    public static final int CFG_MAX_TARGET = 30;
    public static final int CFG_MAX_LUN = 32;
    /** Bytes of {@code struct virtio_scsi_config}. */
    public static final int CFG_SIZE = 36;

    /**
     * The width of the {@code struct virtio_scsi_config} field that starts at {@code offset}, for
     * transports that must access each field with its own width (virtio 1.2 4.1.3.1).
     *
     * @return 2 or 4, or 0 when no field starts there
     */
    public static int cfgFieldWidth(int offset) {
        return switch (offset) {
            case CFG_NUM_QUEUES, CFG_SEG_MAX, CFG_MAX_SECTORS, CFG_CMD_PER_LUN, CFG_EVENT_INFO_SIZE, CFG_SENSE_SIZE,
                 CFG_CDB_SIZE, CFG_MAX_LUN -> 4;
            case CFG_MAX_CHANNEL, CFG_MAX_TARGET -> 2;
            default -> 0;
        };
    }

    /** The spec's default (and reset) sense_size, also SPDK's and Linux's VIRTIO_SCSI_SENSE_SIZE. */
    public static final int DEFAULT_SENSE_SIZE = 96;
    /** The spec's default (and reset) cdb_size, also SPDK's and Linux's VIRTIO_SCSI_CDB_SIZE. */
    public static final int DEFAULT_CDB_SIZE = 32;

    // 5.6.6.1 struct virtio_scsi_req_cmd: lun[8], id le64, task_attr u8, prio u8, crn u8, cdb[cdb_size]
    public static final int REQ_LUN = 0;
    public static final int REQ_ID = 8;
    public static final int REQ_TASK_ATTR = 16;
    public static final int REQ_PRIO = 17;
    public static final int REQ_CRN = 18;
    public static final int REQ_CDB = 19;
    /** Bytes of the request header before the CDB. */
    public static final int REQ_HEADER_FIXED = 19;
    /** {@code VIRTIO_SCSI_S_SIMPLE}. */
    public static final int TASK_ATTR_SIMPLE = 0;

    // struct virtio_scsi_resp_cmd: sense_len le32, residual le32, status_qualifier le16, status u8, response u8, sense[sense_size]
    public static final int RESP_SENSE_LEN = 0;
    public static final int RESP_RESIDUAL = 4;
    public static final int RESP_STATUS_QUALIFIER = 8;
    public static final int RESP_STATUS = 10;
    public static final int RESP_RESPONSE = 11;
    public static final int RESP_SENSE = 12;
    /** Bytes of the response header before the sense data. */
    public static final int RESP_HEADER_FIXED = 12;

    // 5.6.6.2 control queue
    public static final int VIRTIO_SCSI_T_TMF = 0;
    public static final int VIRTIO_SCSI_T_AN_QUERY = 1;
    public static final int VIRTIO_SCSI_T_AN_SUBSCRIBE = 2;
    public static final int VIRTIO_SCSI_T_TMF_ABORT_TASK = 0;
    public static final int VIRTIO_SCSI_T_TMF_ABORT_TASK_SET = 1;
    public static final int VIRTIO_SCSI_T_TMF_CLEAR_ACA = 2;
    public static final int VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET = 3;
    public static final int VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET = 4;
    public static final int VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET = 5;
    public static final int VIRTIO_SCSI_T_TMF_QUERY_TASK = 6;
    public static final int VIRTIO_SCSI_T_TMF_QUERY_TASK_SET = 7;
    // struct virtio_scsi_ctrl_tmf: type le32, subtype le32, lun[8], id le64 | response u8
    public static final int TMF_TYPE = 0;
    public static final int TMF_SUBTYPE = 4;
    public static final int TMF_LUN = 8;
    public static final int TMF_ID = 16;
    public static final int TMF_REQ_SIZE = 24;
    public static final int TMF_RESP_SIZE = 1;
    // struct virtio_scsi_ctrl_an: type le32, lun[8], event_requested le32 | event_actual le32, response u8
    public static final int AN_TYPE = 0;
    public static final int AN_LUN = 4;
    public static final int AN_EVENT_REQUESTED = 12;
    public static final int AN_REQ_SIZE = 16;
    public static final int AN_EVENT_ACTUAL = 0;
    public static final int AN_RESPONSE = 4;
    public static final int AN_RESP_SIZE = 5;

    // 5.6.6.3 event queue: struct virtio_scsi_event: event le32, lun[8], reason le32
    public static final int EVENT_EVENT = 0;
    public static final int EVENT_LUN = 4;
    public static final int EVENT_REASON = 12;
    public static final int EVENT_SIZE = 16;
    public static final int VIRTIO_SCSI_T_NO_EVENT = 0;
    public static final int VIRTIO_SCSI_T_TRANSPORT_RESET = 1;
    public static final int VIRTIO_SCSI_T_ASYNC_NOTIFY = 2;
    public static final int VIRTIO_SCSI_T_PARAM_CHANGE = 3;
    public static final int VIRTIO_SCSI_T_EVENTS_MISSED = 0x80000000;
    public static final int VIRTIO_SCSI_EVT_RESET_HARD = 0;
    public static final int VIRTIO_SCSI_EVT_RESET_RESCAN = 1;
    public static final int VIRTIO_SCSI_EVT_RESET_REMOVED = 2;

    // response codes (5.6.6.1.1 and 5.6.6.2.1)
    public static final int VIRTIO_SCSI_S_OK = 0;
    public static final int VIRTIO_SCSI_S_OVERRUN = 1;
    public static final int VIRTIO_SCSI_S_ABORTED = 2;
    public static final int VIRTIO_SCSI_S_BAD_TARGET = 3;
    public static final int VIRTIO_SCSI_S_RESET = 4;
    public static final int VIRTIO_SCSI_S_BUSY = 5;
    public static final int VIRTIO_SCSI_S_TRANSPORT_FAILURE = 6;
    public static final int VIRTIO_SCSI_S_TARGET_FAILURE = 7;
    public static final int VIRTIO_SCSI_S_NEXUS_FAILURE = 8;
    public static final int VIRTIO_SCSI_S_FAILURE = 9;
    /** TMF outcome; the same value as {@link #VIRTIO_SCSI_S_OK}. */
    public static final int VIRTIO_SCSI_S_FUNCTION_COMPLETE = 0;
    public static final int VIRTIO_SCSI_S_FUNCTION_SUCCEEDED = 10;
    public static final int VIRTIO_SCSI_S_FUNCTION_REJECTED = 11;
    public static final int VIRTIO_SCSI_S_INCORRECT_LUN = 12;

    /** Every multi-byte virtio field is little-endian. */
    public static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private VirtioScsiSpec() {
    }

    /** @return the spec name of a response code, e.g. {@code VIRTIO_SCSI_S_BAD_TARGET} */
    public static String responseName(int response) {
        return switch (response) {
            case VIRTIO_SCSI_S_OK -> "VIRTIO_SCSI_S_OK";
            case VIRTIO_SCSI_S_OVERRUN -> "VIRTIO_SCSI_S_OVERRUN";
            case VIRTIO_SCSI_S_ABORTED -> "VIRTIO_SCSI_S_ABORTED";
            case VIRTIO_SCSI_S_BAD_TARGET -> "VIRTIO_SCSI_S_BAD_TARGET";
            case VIRTIO_SCSI_S_RESET -> "VIRTIO_SCSI_S_RESET";
            case VIRTIO_SCSI_S_BUSY -> "VIRTIO_SCSI_S_BUSY";
            case VIRTIO_SCSI_S_TRANSPORT_FAILURE -> "VIRTIO_SCSI_S_TRANSPORT_FAILURE";
            case VIRTIO_SCSI_S_TARGET_FAILURE -> "VIRTIO_SCSI_S_TARGET_FAILURE";
            case VIRTIO_SCSI_S_NEXUS_FAILURE -> "VIRTIO_SCSI_S_NEXUS_FAILURE";
            case VIRTIO_SCSI_S_FAILURE -> "VIRTIO_SCSI_S_FAILURE";
            case VIRTIO_SCSI_S_FUNCTION_SUCCEEDED -> "VIRTIO_SCSI_S_FUNCTION_SUCCEEDED";
            case VIRTIO_SCSI_S_FUNCTION_REJECTED -> "VIRTIO_SCSI_S_FUNCTION_REJECTED";
            case VIRTIO_SCSI_S_INCORRECT_LUN -> "VIRTIO_SCSI_S_INCORRECT_LUN";
            default -> "invalid response 0x" + Integer.toHexString(response);
        };
    }

    /** @return what a response code means for the request, for error messages */
    public static String responseMeaning(int response) {
        return switch (response) {
            case VIRTIO_SCSI_S_OK -> "the command was delivered";
            case VIRTIO_SCSI_S_OVERRUN -> "the command needed more buffer space than the driver gave it";
            case VIRTIO_SCSI_S_ABORTED -> "the command was aborted by a task management function";
            case VIRTIO_SCSI_S_BAD_TARGET -> "the target does not exist (removed?)";
            case VIRTIO_SCSI_S_RESET -> "the command was terminated by a reset (LUN or target reset)";
            case VIRTIO_SCSI_S_BUSY -> "the device is busy";
            case VIRTIO_SCSI_S_TRANSPORT_FAILURE -> "the path to the target failed; another path may work";
            case VIRTIO_SCSI_S_TARGET_FAILURE -> "the target failed; retrying on another path will not help";
            case VIRTIO_SCSI_S_NEXUS_FAILURE -> "the I_T nexus failed; retrying on this path will not help";
            case VIRTIO_SCSI_S_FAILURE -> "the device failed the request for another reason";
            case VIRTIO_SCSI_S_FUNCTION_SUCCEEDED -> "the task management function succeeded";
            case VIRTIO_SCSI_S_FUNCTION_REJECTED -> "the task management function was rejected";
            case VIRTIO_SCSI_S_INCORRECT_LUN -> "the LUN does not exist";
            default -> "not a virtio-scsi response code";
        };
    }

    /** @return the spec name of an event type (without the EVENTS_MISSED flag) */
    public static String eventName(int event) {
        return switch (event & ~VIRTIO_SCSI_T_EVENTS_MISSED) {
            case VIRTIO_SCSI_T_NO_EVENT -> "VIRTIO_SCSI_T_NO_EVENT";
            case VIRTIO_SCSI_T_TRANSPORT_RESET -> "VIRTIO_SCSI_T_TRANSPORT_RESET";
            case VIRTIO_SCSI_T_ASYNC_NOTIFY -> "VIRTIO_SCSI_T_ASYNC_NOTIFY";
            case VIRTIO_SCSI_T_PARAM_CHANGE -> "VIRTIO_SCSI_T_PARAM_CHANGE";
            default -> "event 0x" + Integer.toHexString(event);
        } + ((event & VIRTIO_SCSI_T_EVENTS_MISSED) != 0 ? "|VIRTIO_SCSI_T_EVENTS_MISSED" : "");
    }
}
