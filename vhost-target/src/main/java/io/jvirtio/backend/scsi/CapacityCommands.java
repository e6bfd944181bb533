package io.jvirtio.backend.scsi;

/** READ CAPACITY (10) and (16) (SBC-3 5.15, 5.16). */
final class CapacityCommands {
    private CapacityCommands() {
    }

    static void readCapacity10(ScsiTask t, ScsiLun lun) {
        if (!t.expectIn(8)) {
            return;
        }
        long last = lun.blockCount() - 1;
        byte[] d = new byte[8];
        Be.put32(d, 0, last >= 0xFFFF_FFFFL ? 0xFFFF_FFFFL : last);
        Be.put32(d, 4, lun.blockSize());
        t.sendIn(d, 8);
    }

    static void readCapacity16(ScsiTask t, ScsiLun lun) {
        long alloc = t.be32(10);
        if (!t.expectIn(alloc)) {
            return;
        }
        byte[] d = new byte[32];
        Be.put64(d, 0, lun.blockCount() - 1);
        Be.put32(d, 8, lun.blockSize());
        d[13] = (byte) lun.physicalBlockExponent();      // LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT
        if (lun.thinProvisioning()) {
            d[14] = (byte) 0xC0;                          // LBPME, LBPRZ
        }
        t.sendIn(d, alloc);
    }
}
