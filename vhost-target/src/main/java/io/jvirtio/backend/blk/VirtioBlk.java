package io.jvirtio.backend.blk;

/**
 * virtio-blk constants, named as in the virtio 1.2 spec (section 5.2) and Linux's
 * {@code <linux/virtio_blk.h>}. Kept apart from the driver's copy on purpose: the device must not
 * share a misreading with the initiator.
 */
public final class VirtioBlk {
    // Feature bits
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

    // struct virtio_blk_config, little-endian
    public static final int CFG_CAPACITY = 0;                  // le64, 512-byte sectors
    public static final int CFG_SIZE_MAX = 8;                  // le32
    public static final int CFG_SEG_MAX = 12;                  // le32
    public static final int CFG_GEOMETRY_CYLINDERS = 16;       // le16
    public static final int CFG_GEOMETRY_HEADS = 18;           // u8
    public static final int CFG_GEOMETRY_SECTORS = 19;         // u8
    public static final int CFG_BLK_SIZE = 20;                 // le32
    public static final int CFG_PHYSICAL_BLOCK_EXP = 24;       // u8
    public static final int CFG_ALIGNMENT_OFFSET = 25;         // u8
    public static final int CFG_MIN_IO_SIZE = 26;              // le16
    public static final int CFG_OPT_IO_SIZE = 28;              // le32
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
     * The config size: up to and including {@code unused1[3]}. The secure-erase and zoned fields
     * that follow in virtio 1.2 belong to features this device does not offer (and
     * qemu-storage-daemon 7.2's struct ends here too).
     */
    public static final int CONFIG_SIZE = 60;

    // Request types
    public static final int VIRTIO_BLK_T_IN = 0;
    public static final int VIRTIO_BLK_T_OUT = 1;
    public static final int VIRTIO_BLK_T_FLUSH = 4;
    public static final int VIRTIO_BLK_T_GET_ID = 8;
    public static final int VIRTIO_BLK_T_DISCARD = 11;
    public static final int VIRTIO_BLK_T_WRITE_ZEROES = 13;

    // struct virtio_blk_req header (device-readable)
    public static final int REQ_TYPE = 0;                      // le32
    public static final int REQ_IOPRIO = 4;                    // le32 (reserved)
    public static final int REQ_SECTOR = 8;                    // le64
    public static final int REQ_HEADER_SIZE = 16;

    // struct virtio_blk_discard_write_zeroes
    public static final int DWZ_SECTOR = 0;                    // le64
    public static final int DWZ_NUM_SECTORS = 8;               // le32
    public static final int DWZ_FLAGS = 12;                    // le32
    public static final int DWZ_SIZE = 16;
    public static final int VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP = 1;

    // Status byte
    public static final int VIRTIO_BLK_S_OK = 0;
    public static final int VIRTIO_BLK_S_IOERR = 1;
    public static final int VIRTIO_BLK_S_UNSUPP = 2;

    /** GET_ID answers at most 20 bytes, not NUL-terminated when exactly 20. */
    public static final int VIRTIO_BLK_ID_BYTES = 20;
    public static final int SECTOR_SIZE = 512;
    public static final int SECTOR_SHIFT = 9;

    private VirtioBlk() {
    }

    /** @return the spec name of a request type, or {@code type N} */
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
