package io.jvirtio.backend.blk;

import io.jvirtio.spec.blk.VirtioBlkSpec;
import java.nio.charset.StandardCharsets;

/**
 * What the Java target's virtio-blk device looks like to a driver. Build with {@link #builder()}.
 *
 * @param blockSize             the logical block size, 512 or 4096 (VIRTIO_BLK_F_BLK_SIZE)
 * @param numQueues             request queues, 1..256 (VIRTIO_BLK_F_MQ)
 * @param readOnly              offer VIRTIO_BLK_F_RO and refuse writes (also forced by a read-only store)
 * @param discard               offer VIRTIO_BLK_F_DISCARD
 * @param writeZeroes           offer VIRTIO_BLK_F_WRITE_ZEROES
 * @param segMax                most data segments per request (VIRTIO_BLK_F_SEG_MAX), 0 = not offered
 * @param sizeMax               largest data segment in bytes (VIRTIO_BLK_F_SIZE_MAX), 0 = not offered
 * @param maxDiscardSectors     largest discard segment, in 512-byte sectors
 * @param maxDiscardSeg         most discard segments per request
 * @param maxWriteZeroesSectors largest write-zeroes segment, in sectors
 * @param maxWriteZeroesSeg     most write-zeroes segments per request
 * @param serial                the GET_ID answer, at most 20 ASCII bytes
 */
public record BlkModelOptions(int blockSize, int numQueues, boolean readOnly, boolean discard, boolean writeZeroes, int segMax,
                              int sizeMax, int maxDiscardSectors, int maxDiscardSeg, int maxWriteZeroesSectors,
                              int maxWriteZeroesSeg, String serial) {
    /** QEMU's default seg_max for a 128-entry queue (queue size - 2). */
    public static final int DEFAULT_SEG_MAX = 126;
    /** 32 MiB per discard / write-zeroes segment. */
    public static final int DEFAULT_MAX_DWZ_SECTORS = 65536;
    /** Segments per discard / write-zeroes request. */
    public static final int DEFAULT_MAX_DWZ_SEG = 16;
    /** The largest num_queues this device offers (a vring index has 8 bits). */
    public static final int MAX_QUEUES = 256;

    /** @throws IllegalArgumentException naming the option and the value */
    public BlkModelOptions {
        if (blockSize != 512 && blockSize != 4096) {
            throw new IllegalArgumentException("block size " + blockSize + ": expected 512 or 4096");
        }
        if (numQueues < 1 || numQueues > MAX_QUEUES) {
            throw new IllegalArgumentException("num_queues " + numQueues + ": expected 1.." + MAX_QUEUES);
        }
        if (segMax < 0 || sizeMax < 0 || (sizeMax > 0 && sizeMax < blockSize)) {
            throw new IllegalArgumentException("seg_max " + segMax + " / size_max " + sizeMax + ": expected 0 (not offered) or positive, size_max at least the block size");
        }
        if (maxDiscardSectors < 1 || maxDiscardSeg < 1 || maxWriteZeroesSectors < 1 || maxWriteZeroesSeg < 1) {
            throw new IllegalArgumentException("discard / write-zeroes limits must be at least 1");
        }
        if ((long) maxDiscardSectors * VirtioBlkSpec.SECTOR_SIZE % blockSize != 0
                || (long) maxWriteZeroesSectors * VirtioBlkSpec.SECTOR_SIZE % blockSize != 0) {
            throw new IllegalArgumentException("discard / write-zeroes sector limits must be whole blocks of " + blockSize);
        }
        if (serial == null || serial.getBytes(StandardCharsets.US_ASCII).length > VirtioBlkSpec.VIRTIO_BLK_ID_BYTES) {
            throw new IllegalArgumentException("serial " + serial + ": at most " + VirtioBlkSpec.VIRTIO_BLK_ID_BYTES + " ASCII bytes");
        }
    }

    /** @return the defaults: 512-byte blocks, one queue, writable, discard and write-zeroes, seg_max 126 */
    public static BlkModelOptions defaults() {
        return builder().build();
    }

    /** @return a builder holding the defaults */
    public static Builder builder() {
        return new Builder();
    }

    /** @return a builder holding these options */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.blockSize = blockSize;
        b.numQueues = numQueues;
        b.readOnly = readOnly;
        b.discard = discard;
        b.writeZeroes = writeZeroes;
        b.segMax = segMax;
        b.sizeMax = sizeMax;
        b.maxDiscardSectors = maxDiscardSectors;
        b.maxDiscardSeg = maxDiscardSeg;
        b.maxWriteZeroesSectors = maxWriteZeroesSectors;
        b.maxWriteZeroesSeg = maxWriteZeroesSeg;
        b.serial = serial;
        return b;
    }

    /** Builds {@link BlkModelOptions}. */
    public static final class Builder {
        private int blockSize = 512;
        private int numQueues = 1;
        private boolean readOnly;
        private boolean discard = true;
        private boolean writeZeroes = true;
        private int segMax = DEFAULT_SEG_MAX;
        private int sizeMax;
        private int maxDiscardSectors = DEFAULT_MAX_DWZ_SECTORS;
        private int maxDiscardSeg = DEFAULT_MAX_DWZ_SEG;
        private int maxWriteZeroesSectors = DEFAULT_MAX_DWZ_SECTORS;
        private int maxWriteZeroesSeg = DEFAULT_MAX_DWZ_SEG;
        private String serial = "jvirtio-blk";

        private Builder() {
        }

        /** @param bytes the logical block size, 512 or 4096 */
        public Builder blockSize(int bytes) {
            this.blockSize = bytes;
            return this;
        }

        /** @param n request queues, 1..256 */
        public Builder numQueues(int n) {
            this.numQueues = n;
            return this;
        }

        /** @param on offer VIRTIO_BLK_F_RO and refuse writes */
        public Builder readOnly(boolean on) {
            this.readOnly = on;
            return this;
        }

        /** @param on offer VIRTIO_BLK_F_DISCARD */
        public Builder discard(boolean on) {
            this.discard = on;
            return this;
        }

        /** @param on offer VIRTIO_BLK_F_WRITE_ZEROES */
        public Builder writeZeroes(boolean on) {
            this.writeZeroes = on;
            return this;
        }

        /** @param n most data segments per request, 0 to not offer VIRTIO_BLK_F_SEG_MAX */
        public Builder segMax(int n) {
            this.segMax = n;
            return this;
        }

        /** @param bytes largest data segment, 0 to not offer VIRTIO_BLK_F_SIZE_MAX */
        public Builder sizeMax(int bytes) {
            this.sizeMax = bytes;
            return this;
        }

        /** @param maxSectors max_discard_sectors; @param maxSegments max_discard_seg */
        public Builder discardLimits(int maxSectors, int maxSegments) {
            this.maxDiscardSectors = maxSectors;
            this.maxDiscardSeg = maxSegments;
            return this;
        }

        /** @param maxSectors max_write_zeroes_sectors; @param maxSegments max_write_zeroes_seg */
        public Builder writeZeroesLimits(int maxSectors, int maxSegments) {
            this.maxWriteZeroesSectors = maxSectors;
            this.maxWriteZeroesSeg = maxSegments;
            return this;
        }

        /** @param s the GET_ID answer, at most 20 ASCII bytes */
        public Builder serial(String s) {
            this.serial = s;
            return this;
        }

        /** @return the options; @throws IllegalArgumentException naming a bad value */
        public BlkModelOptions build() {
            return new BlkModelOptions(blockSize, numQueues, readOnly, discard, writeZeroes, segMax, sizeMax, maxDiscardSectors,
                    maxDiscardSeg, maxWriteZeroesSectors, maxWriteZeroesSeg, serial);
        }
    }
}
