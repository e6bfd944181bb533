package io.jvirtio.scsi;

import io.jvirtio.spec.scsi.ScsiSpec;

import java.lang.foreign.MemorySegment;

import static io.jvirtio.spec.scsi.ScsiSpec.BE_INT;
import static io.jvirtio.spec.scsi.ScsiSpec.BE_LONG;
import static io.jvirtio.spec.scsi.ScsiSpec.BE_SHORT;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * The CDBs of the I/O path, laid out as SBC-3 defines them (big-endian fields), written into a
 * command's CDB area, which is zeroed first so no byte of an earlier command survives: READ/WRITE
 * (10) and (16), SYNCHRONIZE CACHE (10) and (16), UNMAP with its parameter list, WRITE SAME (16).
 * Each method returns the operation code it wrote. Stateless; allocates nothing.
 */
final class ScsiCdb {
    /** Bytes of the UNMAP parameter list header (SBC-3 table 98). */
    static final int UNMAP_HEADER_BYTES = 8;
    /** Bytes of one UNMAP block descriptor (SBC-3 table 99). */
    static final int UNMAP_DESCRIPTOR_BYTES = 16;
    /** Most blocks one UNMAP block descriptor covers: its NUMBER OF LOGICAL BLOCKS is 32 bits. */
    static final long UNMAP_DESCRIPTOR_MAX_BLOCKS = 0xFFFF_FFFFL;
    /** WRITE SAME (16) byte 1: UNMAP, the device may deallocate the blocks instead of writing them. */
    static final int WRITE_SAME_UNMAP = 0x08;

    // field offsets in the CDBs (SBC-3 5.x): the opcode is byte 0 of every CDB
    private static final int CDB10_LBA = 2;
    private static final int CDB10_TRANSFER_LENGTH = 7;
    private static final int CDB16_LBA = 2;
    private static final int CDB16_TRANSFER_LENGTH = 10;
    private static final int WRITE_SAME16_FLAGS = 1;
    private static final int UNMAP_PARAMETER_LIST_LENGTH = 7;
    // fields of the UNMAP parameter list and its block descriptors
    private static final int UNMAP_DATA_LENGTH = 0;
    private static final int UNMAP_BLOCK_DESCRIPTOR_DATA_LENGTH = 2;
    private static final int UNMAP_RESERVED = 4;
    private static final int DESCRIPTOR_LBA = 0;
    private static final int DESCRIPTOR_BLOCKS = 8;
    private static final int DESCRIPTOR_RESERVED = 12;

    private ScsiCdb() {
    }

    /**
     * READ or WRITE (10) when the range fits its 32-bit LBA and 16-bit length, else (16).
     *
     * @param blocks at most 2^32-1 (the (16) transfer length)
     */
    static int readWrite(MemorySegment cdb, boolean write, long lba, long blocks) {
        cdb.fill((byte) 0);
        int opcode;
        if (lba + blocks - 1 <= 0xFFFF_FFFFL && blocks <= 0xFFFF) {
            opcode = write ? ScsiSpec.WRITE_10 : ScsiSpec.READ_10;
            cdb.set(BE_INT, CDB10_LBA, (int) lba);
            cdb.set(BE_SHORT, CDB10_TRANSFER_LENGTH, (short) blocks);
        } else {
            opcode = write ? ScsiSpec.WRITE_16 : ScsiSpec.READ_16;
            cdb.set(BE_LONG, CDB16_LBA, lba);
            cdb.set(BE_INT, CDB16_TRANSFER_LENGTH, (int) blocks);
        }
        cdb.set(JAVA_BYTE, 0, (byte) opcode);
        return opcode;
    }

    /**
     * SYNCHRONIZE CACHE of the whole medium (LBA 0, NUMBER OF LOGICAL BLOCKS 0): the (16) form when
     * the LUN has more blocks than the (10) form can address.
     */
    static int synchronizeCache(MemorySegment cdb, long blockCount) {
        cdb.fill((byte) 0);
        int opcode = blockCount > 0xFFFF_FFFFL ? ScsiSpec.SYNCHRONIZE_CACHE_16 : ScsiSpec.SYNCHRONIZE_CACHE_10;
        cdb.set(JAVA_BYTE, 0, (byte) opcode);
        return opcode;
    }

    /**
     * Writes the UNMAP parameter list for up to {@code maxDescriptors} descriptors from {@code lba},
     * at most {@code blocks} blocks, one descriptor per 2^32-1 blocks. The CDB's PARAMETER LIST
     * LENGTH is {@link #unmap}'s to write, once the list's length is known.
     *
     * @return the parameter list's length in bytes; the blocks it covers are {@link #unmapBlocks}
     */
    static int unmapParameters(MemorySegment params, long lba, long blocks, int maxDescriptors) {
        int n = 0;
        long left = blocks;
        while (left > 0 && n < maxDescriptors) {
            long count = Math.min(left, UNMAP_DESCRIPTOR_MAX_BLOCKS);
            long d = UNMAP_HEADER_BYTES + (long) UNMAP_DESCRIPTOR_BYTES * n;
            params.set(BE_LONG, d + DESCRIPTOR_LBA, lba);
            params.set(BE_INT, d + DESCRIPTOR_BLOCKS, (int) count);
            params.set(BE_INT, d + DESCRIPTOR_RESERVED, 0);
            lba += count;
            left -= count;
            n++;
        }
        int length = UNMAP_HEADER_BYTES + UNMAP_DESCRIPTOR_BYTES * n;
        params.set(BE_SHORT, UNMAP_DATA_LENGTH, (short) (length - 2)); // the bytes after this field
        params.set(BE_SHORT, UNMAP_BLOCK_DESCRIPTOR_DATA_LENGTH, (short) (UNMAP_DESCRIPTOR_BYTES * n));
        params.set(BE_INT, UNMAP_RESERVED, 0);
        return length;
    }

    /** @return the blocks an UNMAP parameter list of {@code maxDescriptors} descriptors covers of {@code blocks} */
    static long unmapBlocks(long blocks, int maxDescriptors) {
        return Math.min(blocks, UNMAP_DESCRIPTOR_MAX_BLOCKS * maxDescriptors);
    }

    /** UNMAP with a parameter list of {@code parameterListLength} bytes. */
    static int unmap(MemorySegment cdb, int parameterListLength) {
        cdb.fill((byte) 0);
        cdb.set(JAVA_BYTE, 0, (byte) ScsiSpec.UNMAP);
        cdb.set(BE_SHORT, UNMAP_PARAMETER_LIST_LENGTH, (short) parameterListLength);
        return ScsiSpec.UNMAP;
    }

    /**
     * WRITE SAME (16) of one block of data-out over {@code blocks} blocks from {@code lba}.
     *
     * @param unmap set the UNMAP bit: the LUN's unmapped blocks read back as zeros (LBPRZ)
     */
    static int writeSame16(MemorySegment cdb, long lba, long blocks, boolean unmap) {
        cdb.fill((byte) 0);
        cdb.set(JAVA_BYTE, 0, (byte) ScsiSpec.WRITE_SAME_16);
        cdb.set(JAVA_BYTE, WRITE_SAME16_FLAGS, (byte) (unmap ? WRITE_SAME_UNMAP : 0));
        cdb.set(BE_LONG, CDB16_LBA, lba);
        cdb.set(BE_INT, CDB16_TRANSFER_LENGTH, (int) blocks);
        return ScsiSpec.WRITE_SAME_16;
    }
}
