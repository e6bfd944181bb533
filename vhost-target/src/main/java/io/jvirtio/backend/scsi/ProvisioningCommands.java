package io.jvirtio.backend.scsi;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static io.jvirtio.spec.scsi.ScsiSpec.BE_INT;
import static io.jvirtio.spec.scsi.ScsiSpec.BE_LONG;
import static io.jvirtio.spec.scsi.ScsiSpec.BE_SHORT;

/**
 * UNMAP (SBC-3 5.28) and WRITE SAME (10)/(16) (SBC-3 5.41, 5.42), within the limits the LUN
 * advertises in VPD 0xB0. Unmapped blocks read back as zeros (LBPRZ).
 */
final class ProvisioningCommands {
    /** Largest buffer WRITE SAME fills with copies of the block before writing it repeatedly. */
    private static final int PATTERN_CHUNK = 1 << 20;

    private ProvisioningCommands() {
    }

    static void unmap(ScsiTask t, ScsiLun lun) {
        if (!lun.thinProvisioning()) {
            t.checkCondition(SenseCode.INVALID_OPCODE);
            return;
        }
        if ((t.u8(1) & 0x01) != 0) {                         // ANCHOR: not supported (ANC_SUP 0)
            t.checkCondition(SenseCode.INVALID_FIELD_IN_CDB);
            return;
        }
        if (lun.readOnly()) {
            t.checkCondition(SenseCode.WRITE_PROTECTED);
            return;
        }
        int paramLen = t.be16(7);
        if (!t.expectOut(paramLen)) {
            return;
        }
        if (paramLen == 0) {
            t.good();
            return;
        }
        if (paramLen < 8) {
            t.checkCondition(SenseCode.PARAMETER_LIST_LENGTH_ERROR);
            return;
        }
        byte[] p = new byte[paramLen];
        MemorySegment be = MemorySegment.ofArray(p);
        t.out.read(0, be);
        t.consumedOut(paramLen);
        int descriptorBytes = Math.min(Short.toUnsignedInt(be.get(BE_SHORT, 2)), paramLen - 8);
        int count = descriptorBytes / 16;                    // a truncated last descriptor is ignored
        if (count > lun.maxUnmapDescriptors()) {
            t.checkCondition(SenseCode.INVALID_FIELD_IN_PARAMETER_LIST);
            return;
        }
        long total = 0;
        for (int i = 0; i < count; i++) {
            long lba = be.get(BE_LONG, 8 + 16 * i);
            long blocks = Integer.toUnsignedLong(be.get(BE_INT, 16 + 16 * i));
            if (!ReadWriteCommand.inRange(lun, lba, blocks)) {
                t.checkCondition(SenseCode.LBA_OUT_OF_RANGE);
                return;
            }
            total += blocks;
        }
        if (total > lun.maxUnmapBlocks()) {
            t.checkCondition(SenseCode.INVALID_FIELD_IN_PARAMETER_LIST);
            return;
        }
        for (int i = 0; i < count; i++) {
            long lba = be.get(BE_LONG, 8 + 16 * i);
            long blocks = Integer.toUnsignedLong(be.get(BE_INT, 16 + 16 * i));
            if (blocks > 0) {
                lun.store().discard(lba * lun.blockSize(), blocks * lun.blockSize());
            }
        }
        t.good();
    }

    static void writeSame(ScsiTask t, ScsiLun lun, boolean sixteen) {
        int flags = t.u8(1);
        boolean unmap = (flags & 0x08) != 0;
        boolean anchor = (flags & 0x10) != 0;
        boolean ndob = sixteen && (flags & 0x01) != 0;       // NO DATA-OUT BUFFER: the block is zeros
        long lba = sixteen ? t.be64(2) : t.be32(2);
        long blocks = sixteen ? t.be32(10) : t.be16(7);
        if ((flags & 0xE0) != 0 || anchor || (unmap && !lun.thinProvisioning()) || blocks == 0
                || blocks > lun.maxWriteSameBlocks()) {
            t.checkCondition(SenseCode.INVALID_FIELD_IN_CDB);
            return;
        }
        if (lun.readOnly()) {
            t.checkCondition(SenseCode.WRITE_PROTECTED);
            return;
        }
        int bs = lun.blockSize();
        if (!t.expectOut(ndob ? 0 : bs)) {
            return;
        }
        if (!ReadWriteCommand.inRange(lun, lba, blocks)) {
            t.checkCondition(SenseCode.LBA_OUT_OF_RANGE);
            return;
        }
        long offset = lba * bs;
        long length = blocks * bs;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment block = arena.allocate(bs);
            if (!ndob) {
                t.out.read(0, block);
                t.consumedOut(bs);
            }
            boolean zero = block.mismatch(arena.allocate(bs)) < 0;
            if (zero) {
                if (unmap) {
                    lun.store().discard(offset, length);
                } else {
                    lun.store().writeZeroes(offset, length);
                }
            } else {
                // UNMAP with a non-zero block cannot leave the blocks unmapped: write the pattern (SBC-3 4.7.3.4)
                long chunkBlocks = Math.min(blocks, Math.max(1, PATTERN_CHUNK / bs));
                MemorySegment pattern = arena.allocate(chunkBlocks * bs);
                for (long i = 0; i < chunkBlocks; i++) {
                    MemorySegment.copy(block, 0, pattern, i * bs, bs);
                }
                for (long done = 0; done < length; ) {
                    long n = Math.min(pattern.byteSize(), length - done);
                    lun.store().write(offset + done, pattern.asSlice(0, n));
                    done += n;
                }
            }
        }
        t.good();
    }
}
