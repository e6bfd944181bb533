package io.jvirtio.blk;

import io.jvirtio.core.DeviceException;
import io.jvirtio.core.VirtioDevice;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static io.jvirtio.spec.blk.VirtioBlkSpec.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * The parts of {@code struct virtio_blk_config} jvirtio uses, read once at attach. Fields whose
 * feature was not negotiated hold the spec's meaning of "no limit" or the default (0 / 512).
 * Every value is checked: a device that reports a zero or absurd field is refused at attach, naming it.
 *
 * @param capacitySectors        capacity in 512-byte sectors
 * @param sizeMax                largest data segment in bytes, 0 = no limit
 * @param segMax                 most data segments in one request, 0 = no limit
 * @param blockSize              logical block size in bytes
 * @param physicalBlockExp       log2 of logical blocks per physical block
 * @param alignmentOffset        offset of the first aligned logical block
 * @param minIoSize              suggested minimum I/O size in blocks
 * @param optIoSize              optimal I/O size in blocks
 * @param numQueues              request queues the device has
 * @param maxDiscardSectors      largest discard segment in sectors
 * @param maxDiscardSeg          most discard segments in one request
 * @param discardSectorAlignment discard granularity in sectors
 * @param maxWriteZeroesSectors  largest write-zeroes segment in sectors
 * @param maxWriteZeroesSeg      most write-zeroes segments in one request
 * @param writeZeroesMayUnmap    whether write-zeroes may deallocate
 */
public record VirtioBlkConfig(long capacitySectors, int sizeMax, int segMax, int blockSize, int physicalBlockExp,
                              int alignmentOffset, int minIoSize, int optIoSize, int numQueues,
                              int maxDiscardSectors, int maxDiscardSeg, int discardSectorAlignment,
                              int maxWriteZeroesSectors, int maxWriteZeroesSeg, boolean writeZeroesMayUnmap) {

    /** The largest block size accepted from a device: the page size of a 64 KiB-page system. */
    private static final int MAX_BLOCK_SIZE = 65536;

    /**
     * Reads and validates the config of {@code device}, interpreting fields by its negotiated features.
     *
     * @throws DeviceException naming the field and the value when the device reports nonsense
     */
    public static VirtioBlkConfig read(VirtioDevice device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cfg = arena.allocate(CFG_SIZE);
            device.readDevConfig(0, cfg);
            return parse(device.name(), cfg, device.negotiatedFeatures());
        }
    }

    /** Parses a raw config (little-endian) under {@code features}; visible for tests. */
    static VirtioBlkConfig parse(String dev, MemorySegment cfg, long features) {
        long capacity = cfg.get(LE_LONG, CFG_CAPACITY);
        int sizeMax = has(features, VIRTIO_BLK_F_SIZE_MAX) ? u32(cfg, CFG_SIZE_MAX) : 0;
        int segMax = has(features, VIRTIO_BLK_F_SEG_MAX) ? u32(cfg, CFG_SEG_MAX) : 0;
        int blkSize = has(features, VIRTIO_BLK_F_BLK_SIZE) ? u32(cfg, CFG_BLK_SIZE) : SECTOR_SIZE;
        boolean topo = has(features, VIRTIO_BLK_F_TOPOLOGY);
        int physExp = topo ? u8(cfg, CFG_PHYSICAL_BLOCK_EXP) : 0;
        int alignOff = topo ? u8(cfg, CFG_ALIGNMENT_OFFSET) : 0;
        int minIo = topo ? u16(cfg, CFG_MIN_IO_SIZE) : 0;
        int optIo = topo ? u32(cfg, CFG_OPT_IO_SIZE) : 0;
        int numQueues = has(features, VIRTIO_BLK_F_MQ) ? u16(cfg, CFG_NUM_QUEUES) : 1;
        boolean discard = has(features, VIRTIO_BLK_F_DISCARD);
        boolean wz = has(features, VIRTIO_BLK_F_WRITE_ZEROES);
        VirtioBlkConfig c = new VirtioBlkConfig(capacity, sizeMax, segMax, blkSize, physExp, alignOff, minIo, optIo,
                numQueues,
                discard ? u32(cfg, CFG_MAX_DISCARD_SECTORS) : 0,
                discard ? u32(cfg, CFG_MAX_DISCARD_SEG) : 0,
                discard ? u32(cfg, CFG_DISCARD_SECTOR_ALIGNMENT) : 0,
                wz ? u32(cfg, CFG_MAX_WRITE_ZEROES_SECTORS) : 0,
                wz ? u32(cfg, CFG_MAX_WRITE_ZEROES_SEG) : 0,
                wz && u8(cfg, CFG_WRITE_ZEROES_MAY_UNMAP) != 0);
        c.validate(dev, discard, wz);
        return c;
    }

    private void validate(String dev, boolean discard, boolean wz) {
        if (blockSize < SECTOR_SIZE || blockSize > MAX_BLOCK_SIZE || Integer.bitCount(blockSize) != 1) {
            throw bad(dev, "blk_size", blockSize, "a power of two from 512 to " + MAX_BLOCK_SIZE);
        }
        if (capacitySectors < 0 || capacitySectors > Long.MAX_VALUE >> SECTOR_SHIFT) {
            throw bad(dev, "capacity", capacitySectors, "a sector count that fits in 63 bits of bytes");
        }
        if (numQueues < 1) {
            throw bad(dev, "num_queues", numQueues, "at least 1");
        }
        if (sizeMax != 0 && Integer.toUnsignedLong(sizeMax) < SECTOR_SIZE) {
            throw bad(dev, "size_max", Integer.toUnsignedLong(sizeMax), "0 (no limit) or at least 512");
        }
        if (segMax < 0) {
            throw bad(dev, "seg_max", Integer.toUnsignedLong(segMax), "below 2^31");
        }
        // le32 fields: any non-zero value is a limit (0xffffffff is a large one, not -1)
        if (discard && (maxDiscardSectors == 0 || maxDiscardSeg == 0)) {
            throw bad(dev, maxDiscardSectors == 0 ? "max_discard_sectors" : "max_discard_seg", 0,
                    "at least 1 with VIRTIO_BLK_F_DISCARD");
        }
        if (wz && (maxWriteZeroesSectors == 0 || maxWriteZeroesSeg == 0)) {
            throw bad(dev, maxWriteZeroesSectors == 0 ? "max_write_zeroes_sectors" : "max_write_zeroes_seg", 0,
                    "at least 1 with VIRTIO_BLK_F_WRITE_ZEROES");
        }
    }

    private static DeviceException bad(String dev, String field, long value, String expected) {
        return new DeviceException(dev + ": virtio_blk_config." + field + " = " + value + ", expected " + expected);
    }

    /** @return capacity in bytes */
    public long capacityBytes() {
        return capacitySectors << SECTOR_SHIFT;
    }

    private static boolean has(long features, int bit) {
        return (features & (1L << bit)) != 0;
    }

    private static int u8(MemorySegment s, long off) {
        return Byte.toUnsignedInt(s.get(JAVA_BYTE, off));
    }

    private static int u16(MemorySegment s, long off) {
        return Short.toUnsignedInt(s.get(LE_SHORT, off));
    }

    private static int u32(MemorySegment s, long off) {
        return s.get(LE_INT, off);
    }
}
