package io.jvirtio.scsi;

import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.spec.scsi.ScsiSpec;
import io.jvirtio.spec.scsi.VirtioScsiSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

import static io.jvirtio.spec.scsi.ScsiSpec.BE_SHORT;
import static io.jvirtio.spec.scsi.VirtioScsiSpec.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * Runs a scan's SCSI commands one at a time, blocking, on one request queue (SPDK's
 * {@code send_scan_io} and {@code process_scan_resp}, made synchronous): each command waits at most
 * the command timeout; UNIT ATTENTION and BUSY are retried a bounded number of times. Owns the
 * data-in buffer answers land in: read it through {@link #payload()} after each command, as a
 * command that timed out keeps the old buffer (the device may still write it).
 */
final class ScanCommandRunner implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ScanCommandRunner.class);
    /** SPDK's {@code SCAN_REQUEST_RETRIES}. */
    static final int RETRIES = 5;
    static final int PAYLOAD_BYTES = 4096;
    static final long BUSY_PAUSE_MILLIS = 10;

    /** A command's outcome. */
    record Result(int response, int status, ScsiSense sense, int residual, int usedLen) {
        boolean good() {
            return response == VIRTIO_SCSI_S_OK && status == ScsiSpec.STATUS_GOOD;
        }

        boolean checkCondition() {
            return response == VIRTIO_SCSI_S_OK && status == ScsiSpec.STATUS_CHECK_CONDITION;
        }

        boolean noTarget() {
            return response == VIRTIO_SCSI_S_BAD_TARGET || response == VIRTIO_SCSI_S_INCORRECT_LUN;
        }

        /** @return whether the answer says the LUN (or its target) does not exist (any more) */
        boolean gone() {
            return noTarget() || (checkCondition() && sense != null && sense.is(ScsiSpec.KEY_ILLEGAL_REQUEST, 0x25, 0x00));
        }

        String describe() {
            if (response != VIRTIO_SCSI_S_OK) {
                return response < 0 ? "no response written by the device" : VirtioScsiSpec.responseName(response);
            }
            return ScsiSpec.statusName(status) + (sense != null ? ", sense " + sense.describe() : "");
        }
    }

    private final String name;
    private final MemoryDomain memory;
    private final ScsiRequestQueue queue;
    private final long timeoutNanos;
    private MemorySegment payload;

    /** @param name the controller's, for logs and errors */
    ScanCommandRunner(String name, MemoryDomain memory, ScsiRequestQueue queue, long timeoutNanos) {
        this.name = name;
        this.memory = memory;
        this.queue = queue;
        this.timeoutNanos = timeoutNanos;
        this.payload = memory.allocate(PAYLOAD_BYTES, 4096);
    }

    /** @return the data-in buffer of the last command */
    MemorySegment payload() {
        return payload;
    }

    @FunctionalInterface
    interface CdbWriter {
        void write(MemorySegment cdb);
    }

    /** A CDB: opcode and length, the rest filled in by {@code w}. */
    record Cdb(int opcode, int length, CdbWriter w) {
    }

    static Cdb cdb(int opcode, int length, CdbWriter w) {
        return new Cdb(opcode, length, w);
    }

    static Cdb vpd(int page, int alloc) {
        return cdb(ScsiSpec.INQUIRY, 6, c -> {
            c.set(JAVA_BYTE, 1, (byte) 0x01);   // EVPD
            c.set(JAVA_BYTE, 2, (byte) page);
            c.set(BE_SHORT, 3, (short) alloc);
        });
    }

    /** Runs a command with UNIT ATTENTION and BUSY retried (bounded); @return its last outcome */
    Result run(int target, int address, Cdb cdb, int dataIn) {
        Result r = null;
        for (int attempt = 0; attempt <= RETRIES; attempt++) {
            r = execute(target, address, cdb, dataIn);
            if (r.checkCondition() && r.sense != null && r.sense.isUnitAttention()) {
                LOG.debug("{}: target {} {}: unit attention {}; retrying", name, target, ScsiSpec.opcodeName(cdb.opcode),
                        r.sense.describe());
                continue;
            }
            boolean busy = r.response == VIRTIO_SCSI_S_BUSY || (r.response == VIRTIO_SCSI_S_OK && ScsiSpec.isBusyStatus(r.status));
            if (busy && attempt < RETRIES) {
                sleep(BUSY_PAUSE_MILLIS * (attempt + 1));
                continue;
            }
            return r;
        }
        return r;
    }

    /** Submits one command and polls the queue until it completes or the timeout passes. */
    private Result execute(int target, int address, Cdb cdb, int dataIn) {
        long deadline = System.nanoTime() + timeoutNanos;
        String what = ScsiSpec.opcodeName(cdb.opcode) + " to target " + target + " (LUN address 0x" + Integer.toHexString(address) + ")";
        checkLink(what);
        ScsiCmd cmd;
        while ((cmd = queue.takeInternal()) == null) {
            poll(deadline, what + ": no free command on " + queue.vq.name());
        }
        cmd.cdb.fill((byte) 0);
        cmd.cdb.set(JAVA_BYTE, 0, (byte) cdb.opcode);
        cdb.w.write(cmd.cdb);
        MemorySegment in = dataIn > 0 ? payload.asSlice(0, dataIn) : null;
        if (in != null) {
            in.fill((byte) 0);
        }
        try {
            while (!queue.submitInternal(cmd, target, address, in)) {
                poll(deadline, what + ": no room on " + queue.vq.name());
            }
        } catch (VirtioException | IllegalStateException e) {
            queue.releaseInternal(cmd);
            throw new ScanException(name + ": " + what + " could not be submitted: " + e.getMessage(), e);
        }
        ScsiCmd.InternalResult res = cmd.internal;
        while (!res.done) {
            if (queue.poll() == 0 && !res.done) {
                boolean timedOut = System.nanoTime() - deadline > 0;
                if (timedOut || queue.linkDown()) {
                    // the device may still complete it (a new target, after a reconnect), writing the
                    // payload: both go with the command
                    res.abandoned = true;
                    res.abandonedPayload = payload;
                    payload = memory.allocate(payload.byteSize(), 4096);
                    throw new ScanException(name + ": " + what + (timedOut ? " did not complete within "
                            + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms" : " interrupted: " + linkDownReason()));
                }
                Thread.onSpinWait();
            }
        }
        queue.releaseInternal(cmd);
        if (res.error != null) {
            throw new ScanException(name + ": " + what + " failed: " + res.error.getMessage(), res.error);
        }
        return new Result(res.response, res.status, res.sense, res.residual, res.usedLen);
    }

    /**
     * A scan while the link is down fails at once rather than waiting out its timeout with the
     * scan lock held (the controller hands the event and scan queues over under it, and rescans
     * everything once the link is back).
     */
    private void checkLink(String what) {
        if (queue.linkDown()) {
            throw new ScanException(name + ": " + what + " not sent: " + linkDownReason());
        }
    }

    private String linkDownReason() {
        String lost = queue.ctrl.transportLost();
        return "the link to the target is down (" + (lost != null ? lost : "back meanwhile") + ")";
    }

    private void poll(long deadline, String what) {
        checkLink(what);
        if (queue.poll() == 0) {
            if (System.nanoTime() - deadline > 0) {
                throw new ScanException(name + ": " + what + " within " + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms");
            }
            Thread.onSpinWait();
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ScanException("scan interrupted", e);
        }
    }

    /** @return whether the device broke the queue the commands run on */
    boolean queueBroken() {
        return queue.vq.isBroken();
    }

    /** Replaces the data-in buffer with one of {@code bytes}, for a longer answer. */
    void grow(int bytes) {
        MemorySegment bigger = memory.allocate(bytes, 4096); // first: a failure must not leave payload freed
        memory.free(payload);
        payload = bigger;
    }

    @Override
    public void close() {
        memory.free(payload);
    }
}
