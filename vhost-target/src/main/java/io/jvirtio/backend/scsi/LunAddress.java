package io.jvirtio.backend.scsi;

/**
 * The 8-byte virtio-scsi LUN field (virtio spec 5.6.6.1): byte 0 is 1, byte 1 the target, bytes 2..3
 * a single-level LUN structure (peripheral device addressing for LUNs below 256: {@code 00 LL};
 * flat space addressing: {@code 01LLLLLL LLLLLLLL}), bytes 4..7 zero. Linux sends flat space
 * addressing for every LUN ({@code 0x40 | lun >> 8}); SPDK sends {@code 00 00} for LUN 0.
 *
 * @param target the target (0..255), or -1 when byte 0 is not 1 (no target can be addressed)
 * @param lun    the LUN (0..16383), or -1 when bytes 2..7 are not a single-level LUN this device supports
 */
public record LunAddress(int target, int lun) {
    /** Parses a LUN field given as its 8 bytes. */
    public static LunAddress parse(byte[] b) {
        if ((b[0] & 0xFF) != 1) {
            return new LunAddress(-1, -1);
        }
        int target = b[1] & 0xFF;
        int b2 = b[2] & 0xFF;
        int b3 = b[3] & 0xFF;
        int lun = switch (b2 >> 6) {
            case 0 -> (b2 & 0x3F) == 0 ? b3 : -1;          // peripheral device addressing, bus 0
            case 1 -> ((b2 & 0x3F) << 8) | b3;            // flat space addressing
            default -> -1;                                // logical unit / extended addressing: not supported
        };
        if (b[4] != 0 || b[5] != 0 || b[6] != 0 || b[7] != 0) {
            lun = -1;                                     // a second level: no such logical unit here
        }
        return new LunAddress(target, lun);
    }

    /**
     * Encodes {@code lun} the way REPORT LUNS lists it and events name it (as QEMU does, so that Linux,
     * which reads event bytes 2..3 as an integer, finds the same LUN it scanned): peripheral device
     * addressing below 256, flat space addressing above.
     */
    public static int singleLevel(int lun) {
        return lun < 256 ? lun : 0x4000 | lun;
    }

    /** @return the 8-byte virtio LUN field naming {@code target} and {@code lun} */
    public static byte[] encode(int target, int lun) {
        int sl = singleLevel(lun);
        return new byte[] {1, (byte) target, (byte) (sl >> 8), (byte) sl, 0, 0, 0, 0};
    }

    @Override
    public String toString() {
        return "target " + target + " lun " + lun;
    }
}
