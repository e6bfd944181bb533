package io.jvirtio.backend.scsi;

import java.lang.foreign.MemorySegment;

import java.util.List;

import static io.jvirtio.spec.scsi.ScsiSpec.BE_INT;
import static io.jvirtio.spec.scsi.ScsiSpec.BE_SHORT;

/**
 * REPORT LUNS (SPC-4 6.33): every LUN of the addressed target, in the single-level format of
 * {@link LunAddress#singleLevel}. Answered on any LUN of an existing target, attached or not, since
 * initiators send it to LUN 0 to find the others.
 */
final class ReportLunsCommand {
    private ReportLunsCommand() {
    }

    static void execute(ScsiTask t, ScsiTarget target, ScsiLun addressed) {
        int select = t.u8(2);
        long alloc = t.be32(6);
        if (select > 0x02 || alloc < 16) {
            t.checkCondition(SenseCode.INVALID_FIELD_IN_CDB);
            return;
        }
        if (!t.expectIn(alloc)) {
            return;
        }
        // SELECT REPORT 01h: well-known logical units only, of which this target has none
        List<Integer> luns = select == 0x01 ? List.of() : List.copyOf(target.luns().keySet());
        byte[] d = new byte[8 + 8 * luns.size()];
        MemorySegment be = MemorySegment.ofArray(d);
        be.set(BE_INT, 0, (int) (8L * luns.size()));
        int p = 8;
        for (int lun : luns) {
            be.set(BE_SHORT, p, (short) LunAddress.singleLevel(lun));
            p += 8;
        }
        if (addressed != null) {
            addressed.clearUnitAttention(SenseCode.REPORTED_LUNS_CHANGED);
        }
        t.sendIn(d, alloc);
    }
}
