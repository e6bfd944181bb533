package io.jvirtio.backend.scsi;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.jvirtio.spec.scsi.ScsiSpec.*;

/**
 * A sense key with its additional sense code and qualifier, encoded as fixed-format sense data
 * (SPC-4 4.5.3: response code 0x70, current error).
 *
 * @param key  sense key (0..15)
 * @param asc  additional sense code
 * @param ascq additional sense code qualifier
 */
public record SenseCode(int key, int asc, int ascq) {
    /** Length of the fixed-format sense data this device writes. */
    public static final int FIXED_LENGTH = 18;


    public static final SenseCode NO_SENSE = new SenseCode(KEY_NO_SENSE, 0x00, 0x00);
    public static final SenseCode INVALID_OPCODE = new SenseCode(KEY_ILLEGAL_REQUEST, 0x20, 0x00);
    public static final SenseCode LBA_OUT_OF_RANGE = new SenseCode(KEY_ILLEGAL_REQUEST, 0x21, 0x00);
    public static final SenseCode INVALID_FIELD_IN_CDB = new SenseCode(KEY_ILLEGAL_REQUEST, 0x24, 0x00);
    public static final SenseCode LUN_NOT_SUPPORTED = new SenseCode(KEY_ILLEGAL_REQUEST, 0x25, 0x00);
    public static final SenseCode INVALID_FIELD_IN_PARAMETER_LIST = new SenseCode(KEY_ILLEGAL_REQUEST, 0x26, 0x00);
    public static final SenseCode PARAMETER_LIST_LENGTH_ERROR = new SenseCode(KEY_ILLEGAL_REQUEST, 0x1A, 0x00);
    public static final SenseCode SAVING_PARAMETERS_NOT_SUPPORTED = new SenseCode(KEY_ILLEGAL_REQUEST, 0x39, 0x00);
    public static final SenseCode WRITE_PROTECTED = new SenseCode(KEY_DATA_PROTECT, 0x27, 0x00);
    /** LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED: a START STOP UNIT is needed. */
    public static final SenseCode NOT_READY_INIT_REQUIRED = new SenseCode(KEY_NOT_READY, 0x04, 0x02);
    public static final SenseCode POWER_ON_RESET = new SenseCode(KEY_UNIT_ATTENTION, 0x29, 0x00);
    public static final SenseCode REPORTED_LUNS_CHANGED = new SenseCode(KEY_UNIT_ATTENTION, 0x3F, 0x0E);
    public static final SenseCode CAPACITY_CHANGED = new SenseCode(KEY_UNIT_ATTENTION, 0x2A, 0x09);
    public static final SenseCode UNRECOVERED_READ_ERROR = new SenseCode(KEY_MEDIUM_ERROR, 0x11, 0x00);
    public static final SenseCode WRITE_ERROR = new SenseCode(KEY_MEDIUM_ERROR, 0x0C, 0x00);
    public static final SenseCode INTERNAL_TARGET_FAILURE = new SenseCode(KEY_HARDWARE_ERROR, 0x44, 0x00);

    public SenseCode {
        if (key < 0 || key > 0xF || asc < 0 || asc > 0xFF || ascq < 0 || ascq > 0xFF) {
            throw new IllegalArgumentException("sense key/ASC/ASCQ out of range: " + key + "/" + asc + "/" + ascq);
        }
    }

    /** @return whether this is a UNIT ATTENTION condition */
    public boolean isUnitAttention() {
        return key == KEY_UNIT_ATTENTION;
    }

    /**
     * Writes the {@value #FIXED_LENGTH} bytes of fixed-format sense data at {@code offset}.
     */
    public void writeFixed(MemorySegment dst, long offset) {
        dst.asSlice(offset, FIXED_LENGTH).fill((byte) 0);
        dst.set(ValueLayout.JAVA_BYTE, offset, (byte) 0x70);
        dst.set(ValueLayout.JAVA_BYTE, offset + 2, (byte) key);
        dst.set(ValueLayout.JAVA_BYTE, offset + 7, (byte) (FIXED_LENGTH - 8));
        dst.set(ValueLayout.JAVA_BYTE, offset + 12, (byte) asc);
        dst.set(ValueLayout.JAVA_BYTE, offset + 13, (byte) ascq);
    }

    @Override
    public String toString() {
        return String.format("sense %X/%02X/%02X", key, asc, ascq);
    }
}
