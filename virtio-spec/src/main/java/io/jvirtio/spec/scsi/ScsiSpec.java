package io.jvirtio.spec.scsi;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * SCSI constants jvirtio uses (SPC-4, SBC-3): operation codes, status codes, sense keys, VPD pages,
 * and the big-endian layouts of CDB and parameter fields.
 */
public final class ScsiSpec {
    // operation codes
    public static final int TEST_UNIT_READY = 0x00;
    public static final int REQUEST_SENSE = 0x03;
    public static final int READ_6 = 0x08;
    public static final int WRITE_6 = 0x0A;
    public static final int INQUIRY = 0x12;
    public static final int MODE_SENSE_6 = 0x1A;
    public static final int START_STOP_UNIT = 0x1B;
    public static final int READ_CAPACITY_10 = 0x25;
    public static final int READ_10 = 0x28;
    public static final int WRITE_10 = 0x2A;
    public static final int SYNCHRONIZE_CACHE_10 = 0x35;
    public static final int WRITE_SAME_10 = 0x41;
    public static final int UNMAP = 0x42;
    public static final int MODE_SENSE_10 = 0x5A;
    public static final int READ_16 = 0x88;
    public static final int WRITE_16 = 0x8A;
    public static final int SYNCHRONIZE_CACHE_16 = 0x91;
    public static final int WRITE_SAME_16 = 0x93;
    public static final int SERVICE_ACTION_IN_16 = 0x9E;
    public static final int SAI_READ_CAPACITY_16 = 0x10;
    public static final int REPORT_LUNS = 0xA0;
    public static final int READ_12 = 0xA8;
    public static final int WRITE_12 = 0xAA;

    // status codes (SAM-5)
    public static final int STATUS_GOOD = 0x00;
    public static final int STATUS_CHECK_CONDITION = 0x02;
    public static final int STATUS_CONDITION_MET = 0x04;
    public static final int STATUS_BUSY = 0x08;
    public static final int STATUS_RESERVATION_CONFLICT = 0x18;
    public static final int STATUS_TASK_SET_FULL = 0x28;
    public static final int STATUS_ACA_ACTIVE = 0x30;
    public static final int STATUS_TASK_ABORTED = 0x40;

    // sense keys (SPC-4 table 48)
    public static final int KEY_NO_SENSE = 0x0;
    public static final int KEY_RECOVERED_ERROR = 0x1;
    public static final int KEY_NOT_READY = 0x2;
    public static final int KEY_MEDIUM_ERROR = 0x3;
    public static final int KEY_HARDWARE_ERROR = 0x4;
    public static final int KEY_ILLEGAL_REQUEST = 0x5;
    public static final int KEY_UNIT_ATTENTION = 0x6;
    public static final int KEY_DATA_PROTECT = 0x7;
    public static final int KEY_ABORTED_COMMAND = 0xB;

    // VPD pages
    public static final int VPD_SUPPORTED_PAGES = 0x00;
    public static final int VPD_UNIT_SERIAL = 0x80;
    public static final int VPD_DEVICE_IDENTIFICATION = 0x83;
    public static final int VPD_BLOCK_LIMITS = 0xB0;
    public static final int VPD_BLOCK_DEVICE_CHARACTERISTICS = 0xB1;
    public static final int VPD_LOGICAL_BLOCK_PROVISIONING = 0xB2;

    /** Peripheral device type of a direct-access block device. */
    public static final int TYPE_DISK = 0x00;
    /** Peripheral qualifier: a device of this type is connected to this logical unit. */
    public static final int QUALIFIER_CONNECTED = 0;

    /** SCSI fields are big-endian. */
    public static final ValueLayout.OfShort BE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    public static final ValueLayout.OfInt BE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    public static final ValueLayout.OfLong BE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private ScsiSpec() {
    }

    /** @return the SAM name of a status byte, e.g. {@code CHECK CONDITION} */
    public static String statusName(int status) {
        return switch (status) {
            case STATUS_GOOD -> "GOOD";
            case STATUS_CHECK_CONDITION -> "CHECK CONDITION";
            case STATUS_CONDITION_MET -> "CONDITION MET";
            case STATUS_BUSY -> "BUSY";
            case STATUS_RESERVATION_CONFLICT -> "RESERVATION CONFLICT";
            case STATUS_TASK_SET_FULL -> "TASK SET FULL";
            case STATUS_ACA_ACTIVE -> "ACA ACTIVE";
            case STATUS_TASK_ABORTED -> "TASK ABORTED";
            default -> "status 0x" + Integer.toHexString(status);
        };
    }

    /** @return a short name for an operation code, for error messages */
    public static String opcodeName(int opcode) {
        return switch (opcode) {
            case TEST_UNIT_READY -> "TEST UNIT READY";
            case REQUEST_SENSE -> "REQUEST SENSE";
            case READ_6 -> "READ (6)";
            case WRITE_6 -> "WRITE (6)";
            case INQUIRY -> "INQUIRY";
            case MODE_SENSE_6 -> "MODE SENSE (6)";
            case START_STOP_UNIT -> "START STOP UNIT";
            case READ_CAPACITY_10 -> "READ CAPACITY (10)";
            case READ_10 -> "READ (10)";
            case WRITE_10 -> "WRITE (10)";
            case SYNCHRONIZE_CACHE_10 -> "SYNCHRONIZE CACHE (10)";
            case WRITE_SAME_10 -> "WRITE SAME (10)";
            case UNMAP -> "UNMAP";
            case MODE_SENSE_10 -> "MODE SENSE (10)";
            case READ_16 -> "READ (16)";
            case WRITE_16 -> "WRITE (16)";
            case SYNCHRONIZE_CACHE_16 -> "SYNCHRONIZE CACHE (16)";
            case WRITE_SAME_16 -> "WRITE SAME (16)";
            case SERVICE_ACTION_IN_16 -> "READ CAPACITY (16)";
            case REPORT_LUNS -> "REPORT LUNS";
            case READ_12 -> "READ (12)";
            case WRITE_12 -> "WRITE (12)";
            default -> String.format("opcode 0x%02X", opcode);
        };
    }

    /** @return the CDB length implied by the group code of {@code opcode} (SPC-4 4.2.5.1), or 0 when variable or reserved */
    public static int cdbLength(int opcode) {
        return switch ((opcode >> 5) & 0x7) {
            case 0 -> 6;
            case 1, 2 -> 10;
            case 4 -> 16;
            case 5 -> 12;
            default -> 0;
        };
    }

    /** @return whether a status asks the initiator to retry later (BUSY, TASK SET FULL) */
    public static boolean isBusyStatus(int status) {
        return status == STATUS_BUSY || status == STATUS_TASK_SET_FULL;
    }
}
