package io.jvirtio.scsi;

import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.ring.UsedSink;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.spec.scsi.ScsiSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;

import static io.jvirtio.spec.scsi.VirtioScsiSpec.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * What a completed command of a {@link ScsiRequestQueue} means (the completion half of SPDK's
 * {@code bdev_virtio_io_cpl}): the virtio-scsi response, the SCSI status and the sense decide whether
 * the caller I/O's part is done, short, held for a retry ({@link ScsiRetryPolicy}) or failed
 * ({@link ScsiIoException}); a scan command's answer is recorded for its waiting caller. The ring's
 * sink for the queue; runs on the queue's thread only and allocates nothing for a good completion.
 */
final class ScsiCompletion implements UsedSink {
    private static final Logger LOG = LoggerFactory.getLogger(ScsiCompletion.class);

    private final ScsiRequestQueue queue;
    private final ControllerPort ctrl;
    private final MemoryDomain memory;
    private final RetryFifo retries;
    private final int senseSize;

    /** @param retries where commands wait to be resent; the queue resends them from its poll */
    ScsiCompletion(ScsiRequestQueue queue, ControllerPort ctrl, RetryFifo retries) {
        this.queue = queue;
        this.ctrl = ctrl;
        this.memory = ctrl.memory();
        this.retries = retries;
        this.senseSize = ctrl.config().senseSize();
    }

    @Override
    public void onUsed(Object cookie, int len) {
        ScsiCmd cmd = (ScsiCmd) cookie;
        if (cmd.internal != null) {
            internalDone(cmd, len);
            return;
        }
        ScsiIo io = cmd.io;
        if (cmd.orphan) {
            queue.requestDone(cmd);
            return;
        }
        VirtioScsiDisk disk = io.channel.disk;
        int response = Byte.toUnsignedInt(cmd.resp.get(JAVA_BYTE, RESP_RESPONSE));
        int status = response == VIRTIO_SCSI_S_OK ? Byte.toUnsignedInt(cmd.resp.get(JAVA_BYTE, RESP_STATUS)) : -1;
        if (status == ScsiSpec.STATUS_GOOD) {
            // a short read leaves garbage in the caller's buffer (writes: targets differ in what they report)
            if (!cmd.dataOut && cmd.bytes > 0 && io.error == null) {
                int residual = cmd.resp.get(LE_INT, RESP_RESIDUAL);
                if (residual != 0) {
                    io.error = ScsiIoException.shortTransfer(describe(cmd, io), residual, cmd.bytes, len);
                }
            }
        } else {
            ScsiSense sense = status == ScsiSpec.STATUS_CHECK_CONDITION ? ScsiSense.ofResponse(cmd.resp, senseSize) : null;
            if (io.error == null && !io.channel.closing && !disk.removed && heldForRetry(cmd, response, status, sense)) {
                return;
            }
            if (io.error == null) {
                io.error = answerError(cmd, io, disk, response, status, sense, len);
            }
        }
        if (disk.removed && io.error == null) {
            io.error = disk.removedError(io.opName(), io.offset);
        }
        queue.requestDone(cmd);
    }

    /** @return whether {@link ScsiRetryPolicy} holds the command for a retry */
    private boolean heldForRetry(ScsiCmd cmd, int response, int status, ScsiSense sense) {
        switch (ScsiRetryPolicy.decide(cmd, response, status, sense)) {
            case RETRY_UNIT_ATTENTION -> {
                ctrl.unitAttention(cmd.target, cmd.lunAddress, sense);
                retries.add(cmd, 0);
                return true;
            }
            case RETRY_BUSY -> {
                retries.add(cmd, ScsiRetryPolicy.busyPauseNanos(cmd));
                return true;
            }
            default -> {
                return false;
            }
        }
    }

    /** @return the error a final answer other than OK/GOOD means; null for a flush the LUN has no cache for */
    private ScsiIoException answerError(ScsiCmd cmd, ScsiIo io, VirtioScsiDisk disk, int response, int status, ScsiSense sense,
                                        int len) {
        if (response != VIRTIO_SCSI_S_OK) {
            if (response == VIRTIO_SCSI_S_BAD_TARGET || response == VIRTIO_SCSI_S_INCORRECT_LUN) {
                ctrl.requestRescan(cmd.target);
            }
            return ScsiIoException.response(describe(cmd, io), response, len);
        }
        if (flushWithoutCache(cmd, disk, status, sense)) {
            return null;
        }
        return ScsiIoException.status(describe(cmd, io), status, sense, ScsiRetryPolicy.retries(cmd));
    }

    /**
     * A LUN without SYNCHRONIZE CACHE (ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE) has no volatile
     * cache to flush: the flush succeeds.
     */
    private static boolean flushWithoutCache(ScsiCmd cmd, VirtioScsiDisk disk, int status, ScsiSense sense) {
        if ((cmd.opcode != ScsiSpec.SYNCHRONIZE_CACHE_10 && cmd.opcode != ScsiSpec.SYNCHRONIZE_CACHE_16)
                || status != ScsiSpec.STATUS_CHECK_CONDITION || sense == null || !sense.is(ScsiSpec.KEY_ILLEGAL_REQUEST, 0x20, 0x00)) {
            return false;
        }
        if (!disk.syncCacheUnsupportedLogged) {
            disk.syncCacheUnsupportedLogged = true;
            LOG.info("bdev {}: the LUN does not implement {} (no volatile cache): flushes complete at once", disk.name(),
                    ScsiSpec.opcodeName(cmd.opcode));
        }
        return true;
    }

    @Override
    public void onError(Object cookie, VirtioException error) {
        ScsiCmd cmd = (ScsiCmd) cookie;
        if (cmd.internal != null) {
            cmd.internal.error = error;
            cmd.internal.done = true;
            if (cmd.internal.abandoned) {
                freeAbandoned(cmd);
            }
            return;
        }
        ScsiIo io = cmd.io;
        if (io != null && io.error == null) {
            io.error = queue.failure(io, error);
        }
        queue.requestDone(cmd);
    }

    private void internalDone(ScsiCmd cmd, int len) {
        ScsiCmd.InternalResult r = cmd.internal;
        r.usedLen = len;
        r.response = Byte.toUnsignedInt(cmd.resp.get(JAVA_BYTE, RESP_RESPONSE));
        if (r.response == Byte.toUnsignedInt(ScsiCmd.RESPONSE_UNSET)) {
            r.response = -1;
        }
        r.status = Byte.toUnsignedInt(cmd.resp.get(JAVA_BYTE, RESP_STATUS));
        // resid is the device's u32: never more than what was asked, never negative
        r.residual = (int) Math.min(Integer.toUnsignedLong(cmd.resp.get(LE_INT, RESP_RESIDUAL)), Math.max(cmd.bytes, 0));
        if (r.response == VIRTIO_SCSI_S_OK && r.status == ScsiSpec.STATUS_CHECK_CONDITION) {
            r.sense = ScsiSense.ofResponse(cmd.resp, senseSize);
        }
        r.done = true;
        if (r.abandoned) {
            freeAbandoned(cmd);
        }
    }

    /** A scan command its caller gave up on completed at last: its command and buffer can go. */
    private void freeAbandoned(ScsiCmd cmd) {
        MemorySegment payload = cmd.internal.abandonedPayload;
        queue.requestDone(cmd);
        if (payload != null) {
            memory.free(payload);
        }
    }

    /** @return the command as messages name it: {@code bdev d: READ (10) of 8 block(s) at LBA 0 (read at offset 0)} */
    private static String describe(ScsiCmd cmd, ScsiIo io) {
        String range = switch (cmd.opcode) {
            case ScsiSpec.SYNCHRONIZE_CACHE_10, ScsiSpec.SYNCHRONIZE_CACHE_16 -> "";
            default -> " of " + cmd.blocks + " block(s) at LBA " + cmd.lba;
        };
        return "bdev " + io.channel.disk.name() + ": " + ScsiSpec.opcodeName(cmd.opcode) + range + " (" + io.opName()
                + " at offset " + io.offset + ")";
    }
}
