package io.jvirtio.backend.scsi;

import io.jvirtio.backend.device.DeviceRequest;
import io.jvirtio.spec.scsi.ScsiSpec;
import io.jvirtio.spec.scsi.VirtioScsiSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Collection;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One SCSI command from a request queue: the parsed request header, the data-out and data-in views,
 * the outcome being built, and the completion, which happens exactly once (the state machine decides
 * between the runner, a task management function and a stopped queue).
 *
 * <p>A task is reused: the ring reuses its request objects per descriptor head (or buffer id), and
 * the model keeps one task attached to each ({@link DeviceRequest#attachment}), {@link #reset} for
 * every command it carries, so the command path allocates nothing. Which command a task holds is its
 * generation, kept in one word with its state: whoever acts on a task found in a snapshot
 * ({@link Snapshot}) does so only if the generation is still the one it saw.
 */
final class ScsiTask {
    private static final Logger LOG = LoggerFactory.getLogger(ScsiTask.class);

    enum State { RUNNING, WAITING, DONE, CANCELLED }

    private static final State[] STATES = State.values();
    private static final int STATE_BITS = 2;
    private static final long STATE_MASK = (1 << STATE_BITS) - 1;

    /** A command as a snapshot of the commands in flight saw it: the task, and which of its commands it was. */
    record Snapshot(ScsiTask task, long generation) {
        ScsiLun lun() {
            return task.lun;
        }

        /** @see ScsiTask#cancel */
        boolean cancel(int response) {
            return task.cancel(generation, response);
        }

        /** @see ScsiTask#start */
        boolean start() {
            return task.start(generation);
        }

        /** @see ScsiTask#drop */
        boolean drop() {
            return task.drop(generation);
        }

        /** @return a future completed when this command has been completed (or dropped) */
        CompletableFuture<Void> done() {
            return task.done(generation);
        }
    }

    DeviceRequest request;
    LunAddress address;
    long id;
    int taskAttr;
    /** The CDB, zero-padded to 32 bytes. */
    final byte[] cdb = new byte[32];
    /** How many CDB bytes the driver could send (the negotiated cdb_size). */
    int cdbSize;
    int senseSize;
    /** Data-out: the readable bytes after the request header. */
    final Iov out = new Iov();
    /** Data-in: the writable bytes after the response header. */
    final Iov in = new Iov();
    private final Iov readable = new Iov();
    private final Iov writable = new Iov();
    /** The model's commands in flight: this task is in it from arrival to completion. */
    private final TaskRegistry registry;
    /** Whether the task serves one command only (its request cannot hold an attachment); set by the registry. */
    boolean single;

    private final byte[] header = new byte[VirtioScsiSpec.REQ_HEADER_FIXED];
    private final MemorySegment headerSegment = MemorySegment.ofArray(header);
    private final MemorySegment cdbSegment = MemorySegment.ofArray(cdb);
    private byte[] responseBytes = new byte[0];
    private MemorySegment responseSegment = MemorySegment.ofArray(responseBytes);
    private final MemorySegment senseScratch = MemorySegment.ofArray(new byte[SenseCode.FIXED_LENGTH]);
    private long lunField = -1;

    /** The LUN resolved when the command arrived; null when it named none. */
    volatile ScsiLun lun;
    /** The faults decided for this command when it arrived. */
    volatile ScsiFaults.Decision decision = ScsiFaults.Decision.NONE;
    /** Generation (bits 2..63) and {@link State} (bits 0..1) in one word, so a CAS checks both. */
    private final AtomicLong word = new AtomicLong(State.DONE.ordinal());
    /** Who waits for the command to end (a TMF, a removal, a stopped queue); made only when someone waits. */
    private CompletableFuture<Void> waiters;
    private volatile Future<?> timer;
    private volatile boolean dropped;
    /** In the registry: from arrival to completion. */
    final AtomicBoolean registered = new AtomicBoolean();

    // outcome
    private int virtioResponse = VirtioScsiSpec.VIRTIO_SCSI_S_OK;
    private int status = ScsiSpec.STATUS_GOOD;
    private SenseCode sense;
    private long transferredIn;
    private long consumedOut;

    ScsiTask(TaskRegistry registry) {
        this.registry = registry;
    }

    /**
     * Takes the next command: the request header and CDB from {@code request}'s readable buffers,
     * the views after them. The caller checked that the buffers hold both headers.
     */
    void reset(DeviceRequest request, int cdbSize, int senseSize) {
        long w = word.get();
        if ((w & STATE_MASK) != State.DONE.ordinal() && (w & STATE_MASK) != State.CANCELLED.ordinal()) {
            throw new IllegalStateException(this + " reused while " + STATES[(int) (w & STATE_MASK)]);
        }
        this.request = request;
        this.cdbSize = cdbSize;
        this.senseSize = senseSize;
        readable.reset(request, true);
        writable.reset(request, false);
        readable.read(0, headerSegment);
        long field = headerSegment.get(VirtioScsiSpec.LE_LONG, VirtioScsiSpec.REQ_LUN);
        if (field != lunField || address == null) {
            lunField = field;
            address = LunAddress.parse(Arrays.copyOfRange(header, VirtioScsiSpec.REQ_LUN, VirtioScsiSpec.REQ_LUN + 8));
        }
        this.id = headerSegment.get(VirtioScsiSpec.LE_LONG, VirtioScsiSpec.REQ_ID);
        this.taskAttr = header[VirtioScsiSpec.REQ_TASK_ATTR] & 0xFF;
        Arrays.fill(cdb, (byte) 0);
        readable.copyOut(VirtioScsiSpec.REQ_HEADER_FIXED, cdbSegment, 0, Math.min(cdbSize, cdb.length));
        out.viewOf(readable, VirtioScsiSpec.REQ_HEADER_FIXED + (long) cdbSize);
        in.viewOf(writable, VirtioScsiSpec.RESP_HEADER_FIXED + (long) senseSize);
        lun = null;
        decision = ScsiFaults.Decision.NONE;
        timer = null;
        dropped = false;
        virtioResponse = VirtioScsiSpec.VIRTIO_SCSI_S_OK;
        status = ScsiSpec.STATUS_GOOD;
        sense = null;
        transferredIn = 0;
        consumedOut = 0;
        word.set(stateWord((w >>> STATE_BITS) + 1, State.RUNNING));
    }

    /** @return the state word of command {@code generation} in {@code state} */
    private static long stateWord(long generation, State state) {
        return generation << STATE_BITS | state.ordinal();
    }

    /** @return which command the task holds now */
    long generation() {
        return word.get() >>> STATE_BITS;
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
        return STATES[(int) (word.get() & STATE_MASK)];
    }

    /** Marks the command as held (delayed): whoever wins {@link #start} or {@link #cancel} then ends it. */
    void hold() {
        word.set(stateWord(generation(), State.WAITING));
    }

    /** The timer that will run the held command; cancelled when a TMF or a stopped queue ends it first. */
    void setTimer(Future<?> timer) {
        this.timer = timer;
    }

    /** @return whether this caller won the right to run held command {@code generation} */
    boolean start(long generation) {
        return word.compareAndSet(stateWord(generation, State.WAITING), stateWord(generation, State.RUNNING));
    }

    /** Completes held command {@code generation} now with {@code response} (ABORTED, RESET), if it has not started. */
    boolean cancel(long generation, int response) {
        if (!word.compareAndSet(stateWord(generation, State.WAITING), stateWord(generation, State.CANCELLED))) {
            return false;
        }
        cancelTimer();
        fail(response);
        finish();
        return true;
    }

    /**
     * Forgets command {@code generation} of a stopped queue: it will never be completed (a running one
     * finishes silently).
     *
     * @return whether it was held and is now gone (a running one leaves when it finishes)
     */
    boolean drop(long generation) {
        if (generation() != generation) {
            return false;
        }
        dropped = true;
        if (word.compareAndSet(stateWord(generation, State.WAITING), stateWord(generation, State.CANCELLED))) {
            cancelTimer();
            registry.remove(this);
            notifyWaiters(takeWaiters());
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

    /** @return a future completed when command {@code generation} has been completed (or dropped) */
    synchronized CompletableFuture<Void> done(long generation) {
        long w = word.get();
        long state = w & STATE_MASK;
        if (w >>> STATE_BITS != generation || !registered.get() && (state == State.DONE.ordinal() || state == State.CANCELLED.ordinal())) {
            return CompletableFuture.completedFuture(null);
        }
        if (waiters == null) {
            waiters = new CompletableFuture<>();
        }
        return waiters;
    }

    private synchronized CompletableFuture<Void> takeWaiters() {
        CompletableFuture<Void> w = waiters;
        waiters = null;
        return w;
    }

    private static void notifyWaiters(CompletableFuture<Void> w) {
        if (w != null) {
            w.complete(null);
        }
    }

    static CompletableFuture<Void> allDone(Collection<Snapshot> tasks) {
        return CompletableFuture.allOf(tasks.stream().map(Snapshot::done).toArray(CompletableFuture[]::new));
    }

    // ---- outcome ----

    /** Ends the command with a virtio response other than OK: nothing transferred. */
    void fail(int response) {
        virtioResponse = response;
        status = ScsiSpec.STATUS_GOOD;
        sense = null;
        transferredIn = 0;
        consumedOut = 0;
    }

    /** Ends the command with CHECK CONDITION and {@code sense}: nothing transferred. */
    void checkCondition(SenseCode sense) {
        virtioResponse = VirtioScsiSpec.VIRTIO_SCSI_S_OK;
        status = ScsiSpec.STATUS_CHECK_CONDITION;
        this.sense = sense;
        transferredIn = 0;
        consumedOut = 0;
    }

    /** Ends the command with GOOD status and sense data (REQUEST SENSE style data is sent separately). */
    void good() {
        virtioResponse = VirtioScsiSpec.VIRTIO_SCSI_S_OK;
        status = ScsiSpec.STATUS_GOOD;
        sense = null;
    }

    void status(int scsiStatus) {
        status = scsiStatus;
    }

    int response() {
        return virtioResponse;
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

    /** Writes the response header (and sense) and puts the request on the used ring, once (the runner's end). */
    void complete() {
        finish();
    }

    /**
     * Writes the response and completes the request, once. Dropped commands are not completed: their
     * queue is gone. The task leaves the registry and is marked ended before the request goes to the
     * used ring, because from then on the queue may pop the same request again and reuse this task;
     * whoever waits for it is told after.
     */
    private void finish() {
        int used = -1;
        if (!dropped) {
            try {
                used = writeResponse();
            } catch (RuntimeException e) {
                LOG.error("cannot write the response of {}: {}", this, e.toString());
                used = 0;
            }
            if (LOG.isTraceEnabled()) {
                LOG.trace("{}: response {} status 0x{}{}, {} bytes in, used {}", this, VirtioScsiSpec.responseName(virtioResponse),
                        Integer.toHexString(status), sense == null ? "" : " " + sense, transferredIn, used);
            }
        }
        DeviceRequest r = request;
        CompletableFuture<Void> w = end();
        try {
            if (used >= 0) {
                r.complete(used);
            }
        } finally {
            notifyWaiters(w);
        }
    }

    private CompletableFuture<Void> end() {
        registry.remove(this);
        long g = generation();
        word.set(stateWord(g, State.DONE));
        return takeWaiters();
    }

    private int writeResponse() {
        int senseLen = sense == null ? 0 : Math.min(SenseCode.FIXED_LENGTH, senseSize);
        long residual;
        if (in.length() > 0) {
            residual = in.length() - transferredIn;
        } else {
            residual = out.length() - consumedOut;
        }
        int len = VirtioScsiSpec.RESP_HEADER_FIXED + senseSize;
        if (responseBytes.length < len) {
            responseBytes = new byte[len];
            responseSegment = MemorySegment.ofArray(responseBytes);
        }
        MemorySegment h = responseSegment;
        h.fill((byte) 0);
        h.set(VirtioScsiSpec.LE_INT, 0, senseLen);
        h.set(VirtioScsiSpec.LE_INT, 4, (int) Math.min(residual, 0xFFFF_FFFFL));
        h.set(VirtioScsiSpec.LE_SHORT, 8, (short) 0);
        h.set(ValueLayout.JAVA_BYTE, 10, (byte) status);
        h.set(ValueLayout.JAVA_BYTE, 11, (byte) virtioResponse);
        if (senseLen > 0) {
            sense.writeFixed(senseScratch, 0);
            MemorySegment.copy(senseScratch, 0, h, VirtioScsiSpec.RESP_HEADER_FIXED, senseLen);
        }
        writable.copyIn(0, h, 0, len);
        return (int) (len + transferredIn);
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
