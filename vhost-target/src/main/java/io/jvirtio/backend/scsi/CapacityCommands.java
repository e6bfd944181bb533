package io.jvirtio.backend.scsi;

import java.lang.foreign.MemorySegment;

import static io.jvirtio.spec.scsi.ScsiSpec.BE_INT;
import static io.jvirtio.spec.scsi.ScsiSpec.BE_LONG;

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
        MemorySegment be = MemorySegment.ofArray(d);
        be.set(BE_INT, 0, (int) (last >= 0xFFFF_FFFFL ? 0xFFFF_FFFFL : last));
        be.set(BE_INT, 4, lun.blockSize());
        t.sendIn(d, 8);
    }

    static void readCapacity16(ScsiTask t, ScsiLun lun) {
        long alloc = t.be32(10);
        if (!t.expectIn(alloc)) {
            return;
        }
        byte[] d = new byte[32];
        MemorySegment be = MemorySegment.ofArray(d);
        be.set(BE_LONG, 0, lun.blockCount() - 1);
        be.set(BE_INT, 8, lun.blockSize());
        d[13] = (byte) lun.physicalBlockExponent();      // LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT
        if (lun.thinProvisioning()) {
            d[14] = (byte) 0xC0;                          // LBPME, LBPRZ
        }
        t.sendIn(d, alloc);
    }
}
