package io.jvirtio.scsi;

/**
 * What the scan learnt of one logical unit: INQUIRY identity, READ CAPACITY geometry, the block
 * limits (VPD 0xB0) and logical block provisioning (VPD 0xB2) pages. Limits the device did not
 * report are 0.
 *
 * @param target                 target number
 * @param lun                    LUN number (from the single-level LUN address)
 * @param address                the first two bytes of the 8-byte LUN as REPORT LUNS listed it (bytes 2..3 of the virtio LUN field)
 * @param vendor                 T10 vendor identification
 * @param product                product identification
 * @param revision               product revision level
 * @param scsiVersion            the VERSION field of standard INQUIRY data (5 = SPC-3, 6 = SPC-4)
 * @param blockSize              logical block length in bytes
 * @param blockCount             logical blocks
 * @param physicalBlockExponent  log2(logical blocks per physical block), from READ CAPACITY (16)
 * @param lowestAlignedLba       lowest aligned LBA, from READ CAPACITY (16)
 * @param hasBlockLimits         whether VPD 0xB0 was read
 * @param optimalGranularity     OPTIMAL TRANSFER LENGTH GRANULARITY in blocks
 * @param maxTransferBlocks      MAXIMUM TRANSFER LENGTH in blocks, 0 = no limit reported
 * @param optimalTransferBlocks  OPTIMAL TRANSFER LENGTH in blocks
 * @param maxUnmapBlocks         MAXIMUM UNMAP LBA COUNT (unsigned; 0xFFFFFFFF = no limit)
 * @param maxUnmapDescriptors    MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT (unsigned; 0xFFFFFFFF = no limit)
 * @param optimalUnmapGranularity OPTIMAL UNMAP GRANULARITY in blocks
 * @param maxWriteSameBlocks     MAXIMUM WRITE SAME LENGTH in blocks, 0 = no limit reported
 * @param hasProvisioning        whether VPD 0xB2 was read
 * @param lbpu                   UNMAP is supported (LBPU)
 * @param lbpws                  WRITE SAME (16) with UNMAP is supported (LBPWS)
 * @param lbprz                  unmapped blocks read as zeros (LBPRZ, VPD 0xB2 or READ CAPACITY (16))
 * @param lbpme                  logical block provisioning management enabled (READ CAPACITY (16))
 */
public record ScsiLunInfo(int target, int lun, int address, String vendor, String product, String revision,
                          int scsiVersion, int blockSize, long blockCount, int physicalBlockExponent,
                          long lowestAlignedLba, boolean hasBlockLimits, long optimalGranularity, long maxTransferBlocks,
                          long optimalTransferBlocks, long maxUnmapBlocks, long maxUnmapDescriptors,
                          long optimalUnmapGranularity, long maxWriteSameBlocks, boolean hasProvisioning, boolean lbpu,
                          boolean lbpws, boolean lbprz, boolean lbpme) {

    /** @return whether UNMAP can be used: LBPU, and the block limits (when read) allow at least one block and descriptor */
    public boolean unmapSupported() {
        return lbpu && (!hasBlockLimits || (maxUnmapBlocks != 0 && maxUnmapDescriptors != 0));
    }

    /** @return whether write-zeroes goes out as WRITE SAME (16): the LUN reports LBPWS */
    public boolean writeSameSupported() {
        return lbpws;
    }

    /** @return the physical block size in bytes */
    public long physicalBlockSize() {
        return (long) blockSize << physicalBlockExponent;
    }

    /** @return capacity in bytes */
    public long capacityBytes() {
        return blockCount * blockSize;
    }

    /** @return a copy with another block count (a capacity change) */
    ScsiLunInfo withBlockCount(long count) {
        return new ScsiLunInfo(target, lun, address, vendor, product, revision, scsiVersion, blockSize, count,
                physicalBlockExponent, lowestAlignedLba, hasBlockLimits, optimalGranularity, maxTransferBlocks,
                optimalTransferBlocks, maxUnmapBlocks, maxUnmapDescriptors, optimalUnmapGranularity, maxWriteSameBlocks,
                hasProvisioning, lbpu, lbpws, lbprz, lbpme);
    }
}
