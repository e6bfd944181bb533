package io.jvirtio.blk;

import io.jvirtio.bdev.driver.DriverRequest;

import java.lang.foreign.MemorySegment;

import static io.jvirtio.spec.blk.VirtioBlkSpec.DWZ_SIZE;
import static io.jvirtio.spec.blk.VirtioBlkSpec.REQ_HEADER_SIZE;

/**
 * One virtio-blk request on the ring: its header, status byte and discard/write-zeroes segment
 * table live in device-visible memory, carved once per channel and reused. The ring cookie.
 */
final class BlkPart extends DriverRequest<BlkIo> {
    /** Layout of one part's device memory: header, status, then the segment table. */
    static final int HEADER_OFFSET = 0;
    static final int STATUS_OFFSET = REQ_HEADER_SIZE;
    static final int DWZ_OFFSET = 32;
    static final int STRIDE = 256;
    /** Discard/write-zeroes segments one request carries at most (what fits in the stride). */
    static final int MAX_DWZ_SEGMENTS = (STRIDE - DWZ_OFFSET) / DWZ_SIZE;
    /** Written before submission: a device that completes without writing the status is caught. */
    static final byte STATUS_UNSET = (byte) 0xff;

    final MemorySegment header;
    final MemorySegment status;
    final MemorySegment dwz;
    /** the header's type and sector, for error messages */
    int type;
    long sector;

    BlkPart(int slot, MemorySegment memory) {
        super(slot);
        this.header = memory.asSlice(HEADER_OFFSET, REQ_HEADER_SIZE);
        this.status = memory.asSlice(STATUS_OFFSET, 1);
        this.dwz = memory.asSlice(DWZ_OFFSET, (long) MAX_DWZ_SEGMENTS * DWZ_SIZE);
    }
}
