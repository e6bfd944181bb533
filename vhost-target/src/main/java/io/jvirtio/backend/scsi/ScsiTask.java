package io.jvirtio.backend.scsi;

import io.jvirtio.backend.device.DeviceRequest;
import io.jvirtio.spec.scsi.ScsiSpec;
import io.jvirtio.spec.scsi.VirtioScsiSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Collection;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One SCSI command from a request queue: the parsed request header, the data-out and data-in views,
 * the outcome being built, and the completion, which happens exactly once (the state machine decides
 * between the runner, a task management function and a stopped queue).
 */
final class ScsiTask {
    private static final Logger LOG = LoggerFactory.getLogger(ScsiTask.class);

    enum State { RUNNING, WAITING, DONE, CANCELLED }

    final DeviceRequest request;
    final LunAddress address;
    final long id;
    final int taskAttr;
    /** The CDB, zero-padded to 32 bytes. */
    final byte[] cdb;
    /** How many CDB bytes the driver could send (the negotiated cdb_size). */
    final int cdbSize;
    final int senseSize;
    /** Data-out: the readable bytes after the request header. */
    final Iov out;
    /** Data-in: the writable bytes after the response header. */
    final Iov in;
    private final Iov writable;
    /** The model's set of commands in flight: this command is in it from arrival to completion. */
    private final Set<ScsiTask> registry;

    /** The LUN resolved when the command arrived; null when it named none. */
    volatile ScsiLun lun;
    /** The faults decided for this command when it arrived. */
    volatile ScsiFaults.Decision decision = ScsiFaults.Decision.NONE;
    private final AtomicReference<State> state = new AtomicReference<>(State.RUNNING);
    private final CompletableFuture<Void> done = new CompletableFuture<>();
    private volatile Future<?> timer;
    private volatile boolean dropped;

    // outcome
    private int response = VirtioScsiSpec.VIRTIO_SCSI_S_OK;
    private int status = ScsiSpec.STATUS_GOOD;
    private SenseCode sense;
    private long transferredIn;
    private long consumedOut;

    ScsiTask(DeviceRequest request, Iov readable, Iov writable, int cdbSize, int senseSize, Set<ScsiTask> registry) {
        this.request = request;
        this.registry = registry;
        this.cdbSize = cdbSize;
        this.senseSize = senseSize;
        this.writable = writable;
        MemorySegment hdr = MemorySegment.ofArray(new byte[VirtioScsiSpec.REQ_HEADER_FIXED]);
        readable.read(0, hdr);
        byte[] lunBytes = hdr.asSlice(VirtioScsiSpec.REQ_LUN, 8).toArray(ValueLayout.JAVA_BYTE);
        this.address = LunAddress.parse(lunBytes);
        this.id = hdr.get(VirtioScsiSpec.LE_LONG, VirtioScsiSpec.REQ_ID);
        this.taskAttr = hdr.get(ValueLayout.JAVA_BYTE, VirtioScsiSpec.REQ_TASK_ATTR) & 0xFF;
        this.cdb = new byte[32];
        readable.read(VirtioScsiSpec.REQ_HEADER_FIXED, MemorySegment.ofArray(cdb).asSlice(0, Math.min(cdbSize, 32)));
        this.out = readable.from(VirtioScsiSpec.REQ_HEADER_FIXED + (long) cdbSize);
        this.in = writable.from(VirtioScsiSpec.RESP_HEADER_FIXED + (long) senseSize);
    }

    /** Enters the model's set of commands in flight. */
    void register() {
        registry.add(this);
    }

    int queueIndex() {
        return request.queueIndex();
    }

    int opcode() {
        return cdb[0] & 0xFF;
    }

    int u8(int i) {
        return cdb[i] & 0xFF;
    }

    int be16(int i) {
        return (u8(i) << 8) | u8(i + 1);
    }

    long be32(int i) {
        return ((long) be16(i) << 16) | be16(i + 2);
    }

    long be64(int i) {
        return (be32(i) << 32) | be32(i + 4);
    }

    State state() {
        return state.get();
    }

    /** Marks the command as held (delayed): whoever wins {@link #start} or {@link #cancel} then ends it. */
    void hold() {
        state.set(State.WAITING);
    }

    /** The timer that will run the held command; cancelled when a TMF or a stopped queue ends it first. */
    void setTimer(Future<?> timer) {
        this.timer = timer;
    }

    /** @return whether this caller won the right to run a held command */
    boolean start() {
        return state.compareAndSet(State.WAITING, State.RUNNING);
    }

    /** Completes a held command now with {@code response} (ABORTED, RESET), if it has not started. */
    boolean cancel(int response) {
        if (!state.compareAndSet(State.WAITING, State.CANCELLED)) {
            return false;
        }
        cancelTimer();
        fail(response);
        complete();
        return true;
    }

    /**
     * Forgets a command of a stopped queue: it will never be completed (a running one finishes silently).
     *
     * @return whether it was held and is now gone (a running one leaves when it finishes)
     */
    boolean drop() {
        dropped = true;
        if (state.compareAndSet(State.WAITING, State.CANCELLED)) {
            cancelTimer();
            registry.remove(this);
            done.complete(null);
            return true;
        }
        return false;
    }

    private void cancelTimer() {
        Future<?> t = timer;
        if (t != null) {
            t.cancel(false);
        }
    }

    /** @return a future completed when this command has been completed (or dropped) */
    CompletableFuture<Void> done() {
        return done;
    }

    static CompletableFuture<Void> allDone(Collection<ScsiTask> tasks) {
        return CompletableFuture.allOf(tasks.stream().map(ScsiTask::done).toArray(CompletableFuture[]::new));
    }

    // ---- outcome ----

    /** Ends the command with a virtio response other than OK: nothing transferred. */
    void fail(int virtioResponse) {
        response = virtioResponse;
        status = ScsiSpec.STATUS_GOOD;
        sense = null;
        transferredIn = 0;
        consumedOut = 0;
    }

    /** Ends the command with CHECK CONDITION and {@code sense}: nothing transferred. */
    void checkCondition(SenseCode sense) {
        response = VirtioScsiSpec.VIRTIO_SCSI_S_OK;
        status = ScsiSpec.STATUS_CHECK_CONDITION;
        this.sense = sense;
        transferredIn = 0;
        consumedOut = 0;
    }

    /** Ends the command with GOOD status and sense data (REQUEST SENSE style data is sent separately). */
    void good() {
        response = VirtioScsiSpec.VIRTIO_SCSI_S_OK;
        status = ScsiSpec.STATUS_GOOD;
        sense = null;
    }

    void status(int scsiStatus) {
        status = scsiStatus;
    }

    int response() {
        return response;
    }

    /**
     * Checks that the command's data-in of {@code bytes} fits: a data-in command with data-out buffers, or
     * with fewer data-in bytes than the CDB asks for, ends with VIRTIO_SCSI_S_OVERRUN (as QEMU does).
     */
    boolean expectIn(long bytes) {
        if (bytes > 0 && (out.length() > 0 || in.length() < bytes)) {
            fail(VirtioScsiSpec.VIRTIO_SCSI_S_OVERRUN);
            return false;
        }
        return true;
    }

    /** The data-out counterpart of {@link #expectIn}. */
    boolean expectOut(long bytes) {
        if (bytes > 0 && (in.length() > 0 || out.length() < bytes)) {
            fail(VirtioScsiSpec.VIRTIO_SCSI_S_OVERRUN);
            return false;
        }
        return true;
    }

    /** Sends {@code min(data.length, allocationLength)} bytes of {@code data} as data-in, with GOOD status. */
    void sendIn(byte[] data, long allocationLength) {
        int n = (int) Math.min(data.length, allocationLength);
        in.write(0, MemorySegment.ofArray(data).asSlice(0, n));
        transferredIn = n;
        good();
    }

    void transferredIn(long bytes) {
        transferredIn = bytes;
    }

    void consumedOut(long bytes) {
        consumedOut = bytes;
    }

    /**
     * Writes the response header (and sense) and puts the request on the used ring, once. Dropped
     * commands are not completed: their queue is gone.
     */
    void complete() {
        try {
            if (!dropped) {
                int used;
                try {
                    used = writeResponse();
                } catch (RuntimeException e) {
                    LOG.error("cannot write the response of {}: {}", this, e.toString());
                    used = 0;
                }
                if (LOG.isTraceEnabled()) {
                    LOG.trace("{}: response {} status 0x{}{}, {} bytes in, used {}", this, VirtioScsiSpec.responseName(response),
                            Integer.toHexString(status), sense == null ? "" : " " + sense, transferredIn, used);
                }
                request.complete(used);
            }
        } finally {
            registry.remove(this);
            state.set(State.DONE);
            done.complete(null);
        }
    }

    private int writeResponse() {
        int senseLen = sense == null ? 0 : Math.min(SenseCode.FIXED_LENGTH, senseSize);
        long residual;
        if (in.length() > 0) {
            residual = in.length() - transferredIn;
        } else {
            residual = out.length() - consumedOut;
        }
        byte[] hdr = new byte[VirtioScsiSpec.RESP_HEADER_FIXED + senseSize];
        MemorySegment h = MemorySegment.ofArray(hdr);
        h.set(VirtioScsiSpec.LE_INT, 0, senseLen);
        h.set(VirtioScsiSpec.LE_INT, 4, (int) Math.min(residual, 0xFFFF_FFFFL));
        h.set(VirtioScsiSpec.LE_SHORT, 8, (short) 0);
        h.set(ValueLayout.JAVA_BYTE, 10, (byte) status);
        h.set(ValueLayout.JAVA_BYTE, 11, (byte) response);
        if (senseLen > 0) {
            MemorySegment s = MemorySegment.ofArray(new byte[SenseCode.FIXED_LENGTH]);
            sense.writeFixed(s, 0);
            MemorySegment.copy(s, 0, h, VirtioScsiSpec.RESP_HEADER_FIXED, senseLen);
        }
        writable.write(0, h);
        return (int) (hdr.length + transferredIn);
    }

    /**
     * Answers a request too malformed to become a task: the smallest safe response (a response header
     * with {@code response}) when the writable part can hold one, an empty completion otherwise.
     */
    static void failEarly(DeviceRequest request, Iov writable, int senseSize, int response) {
        int len;
        if (writable.length() >= VirtioScsiSpec.RESP_HEADER_FIXED + (long) senseSize) {
            len = VirtioScsiSpec.RESP_HEADER_FIXED + senseSize;
        } else if (writable.length() >= VirtioScsiSpec.RESP_HEADER_FIXED) {
            len = VirtioScsiSpec.RESP_HEADER_FIXED;
        } else {
            request.complete(0);
            return;
        }
        byte[] hdr = new byte[len];
        MemorySegment h = MemorySegment.ofArray(hdr);
        h.set(ValueLayout.JAVA_BYTE, 11, (byte) response);
        writable.write(0, h);
        request.complete(len);
    }

    @Override
    public String toString() {
        return String.format("command 0x%02X id %d to %s on queue %d", opcode(), id, address, queueIndex());
    }
}
