package io.jvirtio.backend.scsi;

/** SCSI operation codes this device knows (SPC-4, SBC-3) and the CDB length of each group. */
public final class ScsiOpcodes {
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

    private ScsiOpcodes() {
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
}
