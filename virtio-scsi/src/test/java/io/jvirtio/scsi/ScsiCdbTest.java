package io.jvirtio.scsi;

import io.jvirtio.spec.scsi.ScsiSpec;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@link ScsiCdb}: every byte of each CDB and of the UNMAP parameter list against the SBC-3 layouts. */
class ScsiCdbTest {
    /** A CDB area as a command has it (32 bytes: cdb_size), dirty from an earlier command. */
    private static MemorySegment dirtyCdb() {
        MemorySegment cdb = MemorySegment.ofArray(new byte[32]);
        cdb.fill((byte) 0xA5);
        return cdb;
    }

    private static byte[] bytes(MemorySegment s, int n) {
        return s.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }

    private static byte[] b(int... v) {
        byte[] out = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (byte) v[i];
        }
        return out;
    }

    @Test
    void read10() {
        MemorySegment cdb = dirtyCdb();
        assertEquals(ScsiSpec.READ_10, ScsiCdb.readWrite(cdb, false, 0x12345678L, 0x0102));
        // SBC-3 5.11: opcode, flags, LBA (4, BE), group, TRANSFER LENGTH (2, BE), control
        assertArrayEquals(b(0x28, 0, 0x12, 0x34, 0x56, 0x78, 0, 0x01, 0x02, 0), bytes(cdb, 10));
        assertArrayEquals(new byte[22], cdb.asSlice(10).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), "the rest is zeroed");
    }

    @Test
    void write10AtTheLastLbaItAddresses() {
        MemorySegment cdb = dirtyCdb();
        assertEquals(ScsiSpec.WRITE_10, ScsiCdb.readWrite(cdb, true, 0xFFFF_FFFEL, 2));
        assertArrayEquals(b(0x2A, 0, 0xFF, 0xFF, 0xFF, 0xFE, 0, 0x00, 0x02, 0), bytes(cdb, 10));
    }

    @Test
    void read16WhenTheRangeEndsPast32BitLbas() {
        MemorySegment cdb = dirtyCdb();
        assertEquals(ScsiSpec.READ_16, ScsiCdb.readWrite(cdb, false, 0xFFFF_FFFFL, 2));
        // SBC-3 5.13: opcode, flags, LBA (8, BE), TRANSFER LENGTH (4, BE), group, control
        assertArrayEquals(b(0x88, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 2, 0, 0), bytes(cdb, 16));
    }

    @Test
    void write16WhenTheLengthExceeds16Bits() {
        MemorySegment cdb = dirtyCdb();
        assertEquals(ScsiSpec.WRITE_16, ScsiCdb.readWrite(cdb, true, 0x0102_0304_0506_0708L, 0x10000));
        assertArrayEquals(b(0x8A, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 0, 0, 0), bytes(cdb, 16));
        MemorySegment small = dirtyCdb();
        assertEquals(ScsiSpec.WRITE_16, ScsiCdb.readWrite(small, true, 0, 0x10000));
        assertArrayEquals(b(0x8A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0), bytes(small, 16));
    }

    @Test
    void synchronizeCacheOfTheWholeMedium() {
        MemorySegment cdb = dirtyCdb();
        assertEquals(ScsiSpec.SYNCHRONIZE_CACHE_10, ScsiCdb.synchronizeCache(cdb, 0xFFFF_FFFFL));
        // SBC-3 5.22: LBA 0 and NUMBER OF LOGICAL BLOCKS 0 mean every block
        assertArrayEquals(b(0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0), bytes(cdb, 10));
        MemorySegment big = dirtyCdb();
        assertEquals(ScsiSpec.SYNCHRONIZE_CACHE_16, ScsiCdb.synchronizeCache(big, 0x1_0000_0000L));
        assertArrayEquals(b(0x91, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), bytes(big, 16));
    }

    @Test
    void unmapCdbAndParameterList() {
        MemorySegment params = MemorySegment.ofArray(new byte[ScsiCmd.UNMAP_PARAM_BYTES]);
        params.fill((byte) 0xA5);
        int len = ScsiCdb.unmapParameters(params, 0x1000, 0x20, 4);
        assertEquals(24, len);
        // SBC-3 5.28.2: UNMAP DATA LENGTH (n-1 = 22), BLOCK DESCRIPTOR DATA LENGTH (16), reserved (4);
        // then the descriptor: LBA (8, BE), NUMBER OF LOGICAL BLOCKS (4, BE), reserved (4)
        assertArrayEquals(b(0, 22, 0, 16, 0, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 0x10, 0x00, 0, 0, 0, 0x20, 0, 0, 0, 0), bytes(params, 24));
        MemorySegment cdb = dirtyCdb();
        assertEquals(ScsiSpec.UNMAP, ScsiCdb.unmap(cdb, len));
        // SBC-3 5.28: opcode, ANCHOR, reserved (4), group, PARAMETER LIST LENGTH (2, BE), control
        assertArrayEquals(b(0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0), bytes(cdb, 10));
    }

    @Test
    void unmapSplitsARangeIntoDescriptorsOf32BitCounts() {
        long blocks = 0xFFFF_FFFFL + 5;
        assertEquals(blocks, ScsiCdb.unmapBlocks(blocks, 2));
        assertEquals(0xFFFF_FFFFL, ScsiCdb.unmapBlocks(blocks, 1), "one descriptor covers 2^32-1 blocks");
        MemorySegment params = MemorySegment.ofArray(new byte[ScsiCmd.UNMAP_PARAM_BYTES]);
        int len = ScsiCdb.unmapParameters(params, 7, blocks, 2);
        assertEquals(8 + 2 * 16, len);
        assertArrayEquals(b(0, 38, 0, 32, 0, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 0, 7, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0,
                0, 0, 0, 1, 0, 0, 0, 6, 0, 0, 0, 5, 0, 0, 0, 0), bytes(params, len));
    }

    @Test
    void writeSame16WithAndWithoutTheUnmapBit() {
        MemorySegment cdb = dirtyCdb();
        assertEquals(ScsiSpec.WRITE_SAME_16, ScsiCdb.writeSame16(cdb, 0x0A0B, 0x0102_0304L, false));
        // SBC-3 5.46: opcode, flags (UNMAP is bit 3), LBA (8, BE), NUMBER OF LOGICAL BLOCKS (4, BE), group, control
        assertArrayEquals(b(0x93, 0, 0, 0, 0, 0, 0, 0, 0x0A, 0x0B, 1, 2, 3, 4, 0, 0), bytes(cdb, 16));
        MemorySegment unmap = dirtyCdb();
        ScsiCdb.writeSame16(unmap, 0, 1, true);
        assertArrayEquals(b(0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0), bytes(unmap, 16));
    }
}
