package io.jvirtio.spec.blk;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * virtio-blk constants (virtio 1.x spec section 5.2), with the spec's names: feature bits,
 * request types, status values, and the offsets of {@code struct virtio_blk_config} and of the
 * request header.
 */
public final class VirtioBlkSpec {
    // 5.2.3 Feature bits
    public static final int VIRTIO_BLK_F_SIZE_MAX = 1;
    public static final int VIRTIO_BLK_F_SEG_MAX = 2;
    public static final int VIRTIO_BLK_F_GEOMETRY = 4;
    public static final int VIRTIO_BLK_F_RO = 5;
    public static final int VIRTIO_BLK_F_BLK_SIZE = 6;
    public static final int VIRTIO_BLK_F_FLUSH = 9;
    public static final int VIRTIO_BLK_F_TOPOLOGY = 10;
    public static final int VIRTIO_BLK_F_CONFIG_WCE = 11;
    public static final int VIRTIO_BLK_F_MQ = 12;
    public static final int VIRTIO_BLK_F_DISCARD = 13;
    public static final int VIRTIO_BLK_F_WRITE_ZEROES = 14;

    // 5.2.4 struct virtio_blk_config offsets
    public static final int CFG_CAPACITY = 0;                  // le64, in 512-byte sectors
    public static final int CFG_SIZE_MAX = 8;                  // le32
    public static final int CFG_SEG_MAX = 12;                  // le32
    public static final int CFG_GEOMETRY_CYLINDERS = 16;       // le16
    public static final int CFG_GEOMETRY_HEADS = 18;           // u8
    public static final int CFG_GEOMETRY_SECTORS = 19;         // u8
    public static final int CFG_BLK_SIZE = 20;                 // le32
    public static final int CFG_PHYSICAL_BLOCK_EXP = 24;       // u8
    public static final int CFG_ALIGNMENT_OFFSET = 25;         // u8
    public static final int CFG_MIN_IO_SIZE = 26;              // le16, in blocks
    public static final int CFG_OPT_IO_SIZE = 28;              // le32, in blocks
    public static final int CFG_WRITEBACK = 32;                // u8
    public static final int CFG_UNUSED0 = 33;                  // u8
    public static final int CFG_NUM_QUEUES = 34;               // le16
    public static final int CFG_MAX_DISCARD_SECTORS = 36;      // le32
    public static final int CFG_MAX_DISCARD_SEG = 40;          // le32
    public static final int CFG_DISCARD_SECTOR_ALIGNMENT = 44; // le32
    public static final int CFG_MAX_WRITE_ZEROES_SECTORS = 48; // le32
    public static final int CFG_MAX_WRITE_ZEROES_SEG = 52;     // le32
    public static final int CFG_WRITE_ZEROES_MAY_UNMAP = 56;   // u8, then unused1[3]
    /**
     * Bytes of {@code struct virtio_blk_config} as both sides of jvirtio know it: through
     * {@code write_zeroes_may_unmap} and its padding. The driver reads this much and the Java device
     * exposes this much. Targets reject GET_CONFIG beyond their own struct size (qemu-storage-daemon
     * 7.2's struct ends here too); the secure-erase and zoned fields that follow in virtio 1.2 belong
     * to features neither side offers or uses.
     */
    public static final int CFG_SIZE = 60;

    /**
     * The width of the {@code struct virtio_blk_config} field that starts at {@code offset}, for
     * transports that must access each field with its own width (virtio 1.2 4.1.3.1: 8, 16 or 32
     * bits; a 64-bit field as two 32-bit accesses, which the caller does).
     *
     * @return 1, 2, 4 or 8, or 0 when no field of {@link #CFG_SIZE} bytes starts there
     */
    public static int cfgFieldWidth(int offset) {
        return switch (offset) {
            case CFG_CAPACITY -> 8;
            case CFG_SIZE_MAX, CFG_SEG_MAX, CFG_BLK_SIZE, CFG_OPT_IO_SIZE, CFG_MAX_DISCARD_SECTORS, CFG_MAX_DISCARD_SEG,
                 CFG_DISCARD_SECTOR_ALIGNMENT, CFG_MAX_WRITE_ZEROES_SECTORS, CFG_MAX_WRITE_ZEROES_SEG -> 4;
            case CFG_GEOMETRY_CYLINDERS, CFG_MIN_IO_SIZE, CFG_NUM_QUEUES -> 2;
            case CFG_GEOMETRY_HEADS, CFG_GEOMETRY_SECTORS, CFG_PHYSICAL_BLOCK_EXP, CFG_ALIGNMENT_OFFSET, CFG_WRITEBACK,
                 CFG_UNUSED0, CFG_WRITE_ZEROES_MAY_UNMAP, CFG_WRITE_ZEROES_MAY_UNMAP + 1, CFG_WRITE_ZEROES_MAY_UNMAP + 2,
                 CFG_WRITE_ZEROES_MAY_UNMAP + 3 -> 1; // unused1[3] is three u8
            default -> 0;
        };
    }

    // 5.2.6 Request types
    public static final int VIRTIO_BLK_T_IN = 0;
    public static final int VIRTIO_BLK_T_OUT = 1;
    public static final int VIRTIO_BLK_T_FLUSH = 4;
    public static final int VIRTIO_BLK_T_GET_ID = 8;
    public static final int VIRTIO_BLK_T_DISCARD = 11;
    public static final int VIRTIO_BLK_T_WRITE_ZEROES = 13;

    // struct virtio_blk_req header: le32 type, le32 reserved (Linux: ioprio), le64 sector
    public static final int REQ_TYPE = 0;
    public static final int REQ_RESERVED = 4;
    public static final int REQ_SECTOR = 8;
    public static final int REQ_HEADER_SIZE = 16;

    // struct virtio_blk_discard_write_zeroes: le64 sector, le32 num_sectors, le32 flags
    public static final int DWZ_SECTOR = 0;
    public static final int DWZ_NUM_SECTORS = 8;
    public static final int DWZ_FLAGS = 12;
    public static final int DWZ_SIZE = 16;
    /** {@code VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP}: the device may deallocate the zeroed range. */
    public static final int VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP = 1;

    // Status byte
    public static final int VIRTIO_BLK_S_OK = 0;
    public static final int VIRTIO_BLK_S_IOERR = 1;
    public static final int VIRTIO_BLK_S_UNSUPP = 2;

    /** {@code VIRTIO_BLK_ID_BYTES}: the serial returned by GET_ID, not NUL-terminated when exactly this long. */
    public static final int VIRTIO_BLK_ID_BYTES = 20;
    /** virtio-blk addresses in 512-byte sectors whatever the block size. */
    public static final int SECTOR_SIZE = 512;
    public static final int SECTOR_SHIFT = 9;

    /** Every multi-byte field of virtio-blk is little-endian; these layouts are shared, never re-derived per I/O. */
    public static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private VirtioBlkSpec() {
    }

    /** @return the spec name of a status byte, e.g. {@code VIRTIO_BLK_S_IOERR} */
    public static String statusName(int status) {
        return switch (status) {
            case VIRTIO_BLK_S_OK -> "VIRTIO_BLK_S_OK";
            case VIRTIO_BLK_S_IOERR -> "VIRTIO_BLK_S_IOERR";
            case VIRTIO_BLK_S_UNSUPP -> "VIRTIO_BLK_S_UNSUPP";
            default -> "invalid status 0x" + Integer.toHexString(status);
        };
    }

    /** @return the spec name of a request type */
    public static String typeName(int type) {
        return switch (type) {
            case VIRTIO_BLK_T_IN -> "VIRTIO_BLK_T_IN";
            case VIRTIO_BLK_T_OUT -> "VIRTIO_BLK_T_OUT";
            case VIRTIO_BLK_T_FLUSH -> "VIRTIO_BLK_T_FLUSH";
            case VIRTIO_BLK_T_GET_ID -> "VIRTIO_BLK_T_GET_ID";
            case VIRTIO_BLK_T_DISCARD -> "VIRTIO_BLK_T_DISCARD";
            case VIRTIO_BLK_T_WRITE_ZEROES -> "VIRTIO_BLK_T_WRITE_ZEROES";
            default -> "type " + Integer.toUnsignedString(type);
        };
    }
}
