package io.jvirtio.backend.scsi;

import io.jvirtio.spec.scsi.ScsiSpec;

/**
 * READ and WRITE (6), (10), (12), (16) (SBC-3 5.8-5.11, 5.32-5.35): straight between the store and
 * the driver's buffers, no copy in between. FUA writes are flushed before completing.
 */
final class ReadWriteCommand {
    private ReadWriteCommand() {
    }

    static boolean isRead(int opcode) {
        return opcode == ScsiSpec.READ_6 || opcode == ScsiSpec.READ_10
                || opcode == ScsiSpec.READ_12 || opcode == ScsiSpec.READ_16;
    }

    static boolean isWrite(int opcode) {
        return opcode == ScsiSpec.WRITE_6 || opcode == ScsiSpec.WRITE_10
                || opcode == ScsiSpec.WRITE_12 || opcode == ScsiSpec.WRITE_16;
    }

    /** @return whether {@code [lba, lba + blocks)} lies within the LUN; {@code lba} is unsigned and must exist even when {@code blocks} is 0 */
    static boolean inRange(ScsiLun lun, long lba, long blocks) {
        return Long.compareUnsigned(lba, lun.blockCount()) < 0 && blocks <= lun.blockCount() - lba;
    }

    static void execute(ScsiTask t, ScsiLun lun) {
        int op = t.opcode();
        boolean read = isRead(op);
        long lba;
        long blocks;
        int flags = 0;
        switch (op) {
            case ScsiSpec.READ_6, ScsiSpec.WRITE_6 -> {
                lba = ((t.u8(1) & 0x1F) << 16) | t.be16(2);
                blocks = t.u8(4) == 0 ? 256 : t.u8(4);
            }
            case ScsiSpec.READ_10, ScsiSpec.WRITE_10 -> {
                flags = t.u8(1);
                lba = t.be32(2);
                blocks = t.be16(7);
            }
            case ScsiSpec.READ_12, ScsiSpec.WRITE_12 -> {
                flags = t.u8(1);
                lba = t.be32(2);
                blocks = t.be32(6);
            }
            default -> {
                flags = t.u8(1);
                lba = t.be64(2);
                blocks = t.be32(10);
            }
        }
        if ((flags & 0xE0) != 0) {                  // RDPROTECT / WRPROTECT: no protection information here
            t.checkCondition(SenseCode.INVALID_FIELD_IN_CDB);
            return;
        }
        if (!read && lun.readOnly()) {
            t.checkCondition(SenseCode.WRITE_PROTECTED);
            return;
        }
        long bytes = blocks * lun.blockSize();
        if (read ? !t.expectIn(bytes) : !t.expectOut(bytes)) {
            return;
        }
        if (!inRange(lun, lba, blocks)) {
            t.checkCondition(SenseCode.LBA_OUT_OF_RANGE);
            return;
        }
        if (blocks > lun.maxTransferBlocks()) {
            t.checkCondition(SenseCode.INVALID_FIELD_IN_CDB);
            return;
        }
        long offset = lba * lun.blockSize();
        if (read) {
            t.in.readFrom(lun.store(), offset, bytes);
            t.transferredIn(bytes);
        } else {
            t.out.writeTo(lun.store(), offset, bytes);
            t.consumedOut(bytes);
            if ((flags & 0x08) != 0) {              // FUA
                lun.store().flush();
            }
        }
        t.good();
    }
}
