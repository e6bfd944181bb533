package io.jvirtio.scsi;

import io.jvirtio.spec.scsi.ScsiSpec;
import io.jvirtio.spec.scsi.VirtioScsiSpec;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Sense data as a device returned it with CHECK CONDITION, decoded from fixed format (response codes
 * 0x70 current, 0x71 deferred) or descriptor format (0x72, 0x73) as SPC-4 4.5 defines them.
 *
 * @param responseCode     0x70..0x73
 * @param key              the sense key (0..15)
 * @param asc              additional sense code, 0 when the data is too short to hold it
 * @param ascq             additional sense code qualifier, 0 when the data is too short to hold it
 * @param information      the INFORMATION field (e.g. the failing LBA) when the device marked it valid, else -1
 * @param length           how many sense bytes the device returned
 */
public record ScsiSense(int responseCode, int key, int asc, int ascq, long information, int length) {

    /** @return whether this is descriptor-format sense data (0x72, 0x73) */
    public boolean descriptorFormat() {
        return responseCode == 0x72 || responseCode == 0x73;
    }

    /** @return whether this reports a deferred error (0x71, 0x73): an earlier command failed */
    public boolean deferred() {
        return responseCode == 0x71 || responseCode == 0x73;
    }

    /** @return whether the sense key is UNIT ATTENTION */
    public boolean isUnitAttention() {
        return key == ScsiSpec.KEY_UNIT_ATTENTION;
    }

    /** @return whether the sense key is NOT READY */
    public boolean isNotReady() {
        return key == ScsiSpec.KEY_NOT_READY;
    }

    /** @return whether the sense key is ILLEGAL REQUEST */
    public boolean isIllegalRequest() {
        return key == ScsiSpec.KEY_ILLEGAL_REQUEST;
    }

    /** @return whether this is the sense key and ASC/ASCQ given */
    public boolean is(int key, int asc, int ascq) {
        return this.key == key && this.asc == asc && this.ascq == ascq;
    }

    /**
     * Decodes {@code length} bytes of sense data at {@code offset} of {@code data} (clamped to the segment).
     *
     * @return the sense, or null when there is none or it is not in a format SPC defines
     */
    public static ScsiSense decode(MemorySegment data, long offset, int length) {
        int n = (int) Math.max(0, Math.min(length, data.byteSize() - offset));
        if (n < 1) {
            return null;
        }
        int code = u8(data, offset, 0) & 0x7F;
        if (code == 0x70 || code == 0x71) {
            int key = n > 2 ? u8(data, offset, 2) & 0x0F : 0;
            int asc = n > 12 ? u8(data, offset, 12) : 0;
            int ascq = n > 13 ? u8(data, offset, 13) : 0;
            long info = -1;
            if ((u8(data, offset, 0) & 0x80) != 0 && n >= 7) {
                info = Integer.toUnsignedLong(data.get(ScsiSpec.BE_INT, offset + 3));
            }
            return new ScsiSense(code, key, asc, ascq, info, n);
        }
        if (code == 0x72 || code == 0x73) {
            int key = n > 1 ? u8(data, offset, 1) & 0x0F : 0;
            int asc = n > 2 ? u8(data, offset, 2) : 0;
            int ascq = n > 3 ? u8(data, offset, 3) : 0;
            long info = -1;
            int end = n > 7 ? Math.min(n, 8 + u8(data, offset, 7)) : Math.min(n, 8);
            for (int p = 8; p + 2 <= end; ) {
                int type = u8(data, offset, p);
                int len = u8(data, offset, p + 1);
                if (type == 0x00 && len >= 0x0A && p + 12 <= end && (u8(data, offset, p + 2) & 0x80) != 0) {
                    info = data.get(ScsiSpec.BE_LONG, offset + p + 4);
                }
                p += 2 + len;
            }
            return new ScsiSense(code, key, asc, ascq, info, n);
        }
        return null;
    }

    /**
     * Decodes the sense a device returned in a {@code virtio_scsi_resp_cmd}: as many bytes as its
     * sense_len says (a u32, unsigned), never more than the {@code sense_size} negotiated.
     *
     * @param resp      the response, starting at its sense_len field
     * @param senseSize the sense bytes the response holds ({@code virtio_scsi_config.sense_size})
     * @return the sense, or null when there is none or it is not in a format SPC defines
     */
    static ScsiSense ofResponse(MemorySegment resp, int senseSize) {
        int senseLen = resp.get(VirtioScsiSpec.LE_INT, VirtioScsiSpec.RESP_SENSE_LEN);
        int n = (int) Math.min(Integer.toUnsignedLong(senseLen), senseSize);
        return decode(resp, VirtioScsiSpec.RESP_SENSE, n);
    }

    /** Decodes sense bytes held in an array. */
    public static ScsiSense decode(byte[] data) {
        return decode(MemorySegment.ofArray(data), 0, data.length);
    }

    private static int u8(MemorySegment s, long base, int i) {
        return Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, base + i));
    }

    /** @return the SPC name of a sense key, e.g. {@code MEDIUM ERROR} */
    public static String keyName(int key) {
        return switch (key) {
            case 0x0 -> "NO SENSE";
            case 0x1 -> "RECOVERED ERROR";
            case 0x2 -> "NOT READY";
            case 0x3 -> "MEDIUM ERROR";
            case 0x4 -> "HARDWARE ERROR";
            case 0x5 -> "ILLEGAL REQUEST";
            case 0x6 -> "UNIT ATTENTION";
            case 0x7 -> "DATA PROTECT";
            case 0x8 -> "BLANK CHECK";
            case 0x9 -> "VENDOR SPECIFIC";
            case 0xA -> "COPY ABORTED";
            case 0xB -> "ABORTED COMMAND";
            case 0xD -> "VOLUME OVERFLOW";
            case 0xE -> "MISCOMPARE";
            case 0xF -> "COMPLETED";
            default -> "reserved sense key 0x" + Integer.toHexString(key);
        };
    }

    /** @return the SPC name of a common ASC/ASCQ pair, or null when jvirtio does not know it */
    public static String ascName(int asc, int ascq) {
        return switch ((asc << 8) | ascq) {
            case 0x0000 -> "NO ADDITIONAL SENSE INFORMATION";
            case 0x0400 -> "LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE";
            case 0x0401 -> "LOGICAL UNIT IS IN PROCESS OF BECOMING READY";
            case 0x0402 -> "LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED";
            case 0x0403 -> "LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED";
            case 0x0404 -> "LOGICAL UNIT NOT READY, FORMAT IN PROGRESS";
            case 0x040A -> "LOGICAL UNIT NOT ACCESSIBLE, ASYMMETRIC ACCESS STATE TRANSITION";
            case 0x040B -> "LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN STANDBY STATE";
            case 0x040C -> "LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN UNAVAILABLE STATE";
            case 0x0800 -> "LOGICAL UNIT COMMUNICATION FAILURE";
            case 0x0C00 -> "WRITE ERROR";
            case 0x0C02 -> "WRITE ERROR - AUTO REALLOCATION FAILED";
            case 0x1001 -> "LOGICAL BLOCK GUARD CHECK FAILED";
            case 0x1100 -> "UNRECOVERED READ ERROR";
            case 0x1401 -> "RECORD NOT FOUND";
            case 0x1A00 -> "PARAMETER LIST LENGTH ERROR";
            case 0x2000 -> "INVALID COMMAND OPERATION CODE";
            case 0x2100 -> "LOGICAL BLOCK ADDRESS OUT OF RANGE";
            case 0x2400 -> "INVALID FIELD IN CDB";
            case 0x2500 -> "LOGICAL UNIT NOT SUPPORTED";
            case 0x2600 -> "INVALID FIELD IN PARAMETER LIST";
            case 0x2700 -> "WRITE PROTECTED";
            case 0x2707 -> "SPACE ALLOCATION FAILED WRITE PROTECT";
            case 0x2800 -> "NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED";
            case 0x2900 -> "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED";
            case 0x2901 -> "POWER ON OCCURRED";
            case 0x2902 -> "SCSI BUS RESET OCCURRED";
            case 0x2903 -> "BUS DEVICE RESET FUNCTION OCCURRED";
            case 0x2904 -> "DEVICE INTERNAL RESET";
            case 0x2907 -> "I_T NEXUS LOSS OCCURRED";
            case 0x2A01 -> "MODE PARAMETERS CHANGED";
            case 0x2A09 -> "CAPACITY DATA HAS CHANGED";
            case 0x2F00 -> "COMMANDS CLEARED BY ANOTHER INITIATOR";
            case 0x3100 -> "MEDIUM FORMAT CORRUPTED";
            case 0x3807 -> "THIN PROVISIONING SOFT THRESHOLD REACHED";
            case 0x3900 -> "SAVING PARAMETERS NOT SUPPORTED";
            case 0x3A00 -> "MEDIUM NOT PRESENT";
            case 0x3E03 -> "LOGICAL UNIT FAILED SELF-TEST";
            case 0x3F03 -> "INQUIRY DATA HAS CHANGED";
            case 0x3F0E -> "REPORTED LUNS DATA HAS CHANGED";
            case 0x4400 -> "INTERNAL TARGET FAILURE";
            case 0x4700 -> "SCSI PARITY ERROR";
            case 0x4B00 -> "DATA PHASE ERROR";
            case 0x4E00 -> "OVERLAPPED COMMANDS ATTEMPTED";
            case 0x5503 -> "INSUFFICIENT RESOURCES";
            case 0x5D00 -> "FAILURE PREDICTION THRESHOLD EXCEEDED";
            default -> null;
        };
    }

    /** @return e.g. {@code MEDIUM ERROR (0x3), ASC/ASCQ 0x11/0x00 UNRECOVERED READ ERROR} */
    public String describe() {
        String name = ascName(asc, ascq);
        StringBuilder sb = new StringBuilder();
        sb.append(keyName(key)).append(" (0x").append(Integer.toHexString(key)).append(')')
                .append(String.format(", ASC/ASCQ 0x%02X/0x%02X", asc, ascq));
        if (name != null) {
            sb.append(' ').append(name);
        }
        if (information >= 0) {
            sb.append(", information 0x").append(Long.toHexString(information));
        }
        if (deferred()) {
            sb.append(" (deferred error)");
        }
        if (descriptorFormat()) {
            sb.append(" [descriptor format]");
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return describe();
    }
}
