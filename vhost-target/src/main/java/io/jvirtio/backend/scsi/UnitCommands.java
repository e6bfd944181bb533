package io.jvirtio.backend.scsi;

import java.lang.foreign.MemorySegment;

/** TEST UNIT READY, START STOP UNIT, REQUEST SENSE and SYNCHRONIZE CACHE (10/16). */
final class UnitCommands {
    private UnitCommands() {
    }

    static void testUnitReady(ScsiTask t) {
        t.good();
    }

    /** START STOP UNIT (SBC-3 5.25): START makes the LUN ready, STOP (with its flush, unless NO_FLUSH) makes it NOT READY. */
    static void startStopUnit(ScsiTask t, ScsiLun lun) {
        int powerCondition = t.u8(4) >> 4;
        boolean noFlush = (t.u8(4) & 0x04) != 0;
        boolean start = (t.u8(4) & 0x01) != 0;
        if (powerCondition == 0) {
            if (!start && !noFlush) {
                lun.store().flush();
            }
            lun.setStopped(!start);
        }
        t.good();
    }

    /** REQUEST SENSE (SPC-4 6.39): the pending condition (unit attention, not ready, no such LUN) with GOOD status. */
    static void requestSense(ScsiTask t, ScsiLun lun) {
        if ((t.u8(1) & 0x01) != 0) {                 // DESC: descriptor format is not supported
            t.checkCondition(SenseCode.INVALID_FIELD_IN_CDB);
            return;
        }
        int alloc = t.u8(4);
        if (!t.expectIn(alloc)) {
            return;
        }
        SenseCode sense;
        if (lun == null) {
            sense = SenseCode.LUN_NOT_SUPPORTED;
        } else {
            SenseCode ua = lun.takeUnitAttention();
            sense = ua != null ? ua : lun.stopped() ? SenseCode.NOT_READY_INIT_REQUIRED : SenseCode.NO_SENSE;
        }
        byte[] d = new byte[SenseCode.FIXED_LENGTH];
        sense.writeFixed(MemorySegment.ofArray(d), 0);
        t.sendIn(d, alloc);
    }

    /** SYNCHRONIZE CACHE (SBC-3 5.22, 5.23): checks the range, then makes the store durable. */
    static void synchronizeCache(ScsiTask t, ScsiLun lun, boolean sixteen) {
        long lba = sixteen ? t.be64(2) : t.be32(2);
        long blocks = sixteen ? t.be32(10) : t.be16(7);
        if (!ReadWriteCommand.inRange(lun, lba, blocks)) {
            t.checkCondition(SenseCode.LBA_OUT_OF_RANGE);
            return;
        }
        lun.store().flush();
        t.good();
    }
}
