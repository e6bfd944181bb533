package io.jvirtio.scsi;

import io.jvirtio.bdev.driver.DriverRequest;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.spec.scsi.VirtioScsiSpec;

import java.lang.foreign.MemorySegment;

/**
 * One virtio-scsi command on a request queue: its {@code virtio_scsi_req_cmd}, {@code
 * virtio_scsi_resp_cmd} and UNMAP parameter list live in device-visible memory, carved once per
 * queue and reused. The ring cookie. It remembers what it carries (data iovecs and where in them it
 * starts) so a retry (UNIT ATTENTION, BUSY) resubmits it unchanged.
 */
final class ScsiCmd extends DriverRequest<ScsiIo> {
    /** Written into the response byte before submission: a device that completes without writing it is caught. */
    static final byte RESPONSE_UNSET = (byte) 0xFF;
    /** UNMAP block descriptors one command carries at most (a contiguous range needs one per 2^32-1 blocks). */
    static final int UNMAP_DESCRIPTORS_PER_CMD = 8;
    static final int UNMAP_PARAM_BYTES = ScsiCdb.UNMAP_HEADER_BYTES + ScsiCdb.UNMAP_DESCRIPTOR_BYTES * UNMAP_DESCRIPTORS_PER_CMD;

    final long id;
    final MemorySegment req;
    final MemorySegment cdb;
    final MemorySegment resp;
    final MemorySegment params;
    /** the UNMAP parameter list as a one-element iovec array, so it shares the data path */
    final MemorySegment[] paramIov;
    /** a scan command's payload as a one-element iovec array */
    final MemorySegment[] single = new MemorySegment[1];

    /** set for a scan / control-path command; null for a caller I/O */
    InternalResult internal;

    int opcode;
    int target;
    int lunAddress;
    long lba;
    long blocks;
    // the data the command carries
    MemorySegment[] iovs;
    int iovIndex;
    long iovOffset;
    long bytes;
    boolean dataOut;
    // retries
    int unitAttentionRetries;
    int busyRetries;
    long retryAt;

    ScsiCmd(int slot, long id, MemorySegment memory, int reqBytes, int respOffset, int respBytes, int paramOffset) {
        super(slot);
        this.id = id;
        this.req = memory.asSlice(0, reqBytes);
        this.cdb = req.asSlice(VirtioScsiSpec.REQ_CDB, reqBytes - VirtioScsiSpec.REQ_CDB);
        this.resp = memory.asSlice(respOffset, respBytes);
        this.params = memory.asSlice(paramOffset, UNMAP_PARAM_BYTES);
        this.paramIov = new MemorySegment[] {params};
    }

    @Override
    protected void clear() {
        super.clear();
        internal = null;
        iovs = null;
        single[0] = null;
        bytes = 0;
        unitAttentionRetries = 0;
        busyRetries = 0;
        retryAt = 0;
    }

    /** What a scan / control-path command came back with. */
    static final class InternalResult {
        boolean done;
        /** the caller stopped waiting (timeout): the command is freed when the device completes it */
        boolean abandoned;
        /** the data-in buffer of an abandoned command: freed with it, as the device may write it until then */
        MemorySegment abandonedPayload;
        int response = -1;
        int status = -1;
        int residual;
        int usedLen;
        ScsiSense sense;
        VirtioException error;
    }
}
