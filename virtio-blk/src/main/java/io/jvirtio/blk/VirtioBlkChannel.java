package io.jvirtio.blk;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.bdev.IoCallback;
import io.jvirtio.bdev.IoChannel;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.core.ring.SplitVirtqueue;
import io.jvirtio.core.ring.UsedSink;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;

import static io.jvirtio.spec.blk.VirtioBlkSpec.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * A thread's channel to a {@link VirtioBlkDevice}: owns one request queue, a pool of caller I/O
 * contexts ({@link BlkIo}) and a pool of virtio requests ({@link BlkPart}) with their headers in
 * device memory. Submission and completion allocate nothing and make no syscall but the kick the
 * device asked for.
 *
 * <p>Caller I/Os that do not fit the ring right away wait in a FIFO and are resumed from
 * {@link #poll()}; once anything waits, later I/Os queue behind it so order is kept.
 */
public final class VirtioBlkChannel implements IoChannel, UsedSink {
    private static final Logger LOG = LoggerFactory.getLogger(VirtioBlkChannel.class);
    private static final int POLL_BATCH = 64;
    private static final long CLOSE_DRAIN_NANOS = 5_000_000_000L;

    private final VirtioBlkDevice dev;
    private final SplitVirtqueue vq;
    private final MemorySegment partMemory;
    private final Thread owner;

    private final BlkIo[] ios;
    private final int[] freeIos;
    private int freeIoTop;
    private final BlkPart[] parts;
    private final int[] freeParts;
    private int freePartTop;
    private final BlkIo[] pending;
    private int pendingHead;
    private int pendingCount;

    private int partsOutstanding;
    private int iosInFlight;
    private int completed;
    private boolean closed;

    /** largest data segment, a multiple of 512 */
    private final long segmentBytes;
    /** most data segments in one request */
    private final int maxDataSegments;
    private final int maxDiscardSegments;
    private final int maxWriteZeroesSegments;

    VirtioBlkChannel(VirtioBlkDevice dev, SplitVirtqueue vq, int depth) {
        this.dev = dev;
        this.vq = vq;
        this.owner = Thread.currentThread();
        int nparts = vq.size();
        this.partMemory = dev.allocateBuffer((long) nparts * BlkPart.STRIDE, 64);
        this.parts = new BlkPart[nparts];
        this.freeParts = new int[nparts];
        for (int i = 0; i < nparts; i++) {
            parts[i] = new BlkPart(i, partMemory.asSlice((long) i * BlkPart.STRIDE, BlkPart.STRIDE));
            freeParts[i] = nparts - 1 - i;
        }
        freePartTop = nparts;
        this.ios = new BlkIo[depth];
        this.freeIos = new int[depth];
        for (int i = 0; i < depth; i++) {
            ios[i] = new BlkIo(i);
            freeIos[i] = depth - 1 - i;
        }
        freeIoTop = depth;
        this.pending = new BlkIo[depth];

        VirtioBlkConfig cfg = dev.config();
        long cap = cfg.sizeMax() != 0 ? Integer.toUnsignedLong(cfg.sizeMax()) : VirtioBlkDevice.MAX_SEGMENT_BYTES;
        this.segmentBytes = Math.min(cap, VirtioBlkDevice.MAX_SEGMENT_BYTES) & -SECTOR_SIZE;
        int chainLimit = dev.maxChainDescriptors() - 2; // header and status take two
        this.maxDataSegments = Math.max(1, cfg.segMax() != 0 ? Math.min(cfg.segMax(), chainLimit) : chainLimit);
        this.maxDiscardSegments = dwzSegments(cfg.maxDiscardSeg());
        this.maxWriteZeroesSegments = dwzSegments(cfg.maxWriteZeroesSeg());
    }

    /** @return segments per discard/write-zeroes request: the device's le32 limit (unsigned), capped by the part's table */
    private static int dwzSegments(int deviceMax) {
        return (int) Math.max(1, Math.min(Integer.toUnsignedLong(deviceMax), BlkPart.MAX_DWZ_SEGMENTS));
    }

    @Override
    public Bdev bdev() {
        return dev;
    }

    /** @return the request queue this channel owns (for diagnostics: only this channel may drive it) */
    public SplitVirtqueue queue() {
        return vq;
    }

    // ---------------------------------------------------------------- submission

    @Override
    public boolean read(MemorySegment buffer, long offset, IoCallback callback, Object context) {
        return rw(BlkIo.OP_READ, null, buffer, 1, offset, callback, context);
    }

    @Override
    public boolean write(MemorySegment buffer, long offset, IoCallback callback, Object context) {
        return rw(BlkIo.OP_WRITE, null, buffer, 1, offset, callback, context);
    }

    @Override
    public boolean readv(MemorySegment[] iovs, int iovcnt, long offset, IoCallback callback, Object context) {
        return rw(BlkIo.OP_READ, iovs, null, iovcnt, offset, callback, context);
    }

    @Override
    public boolean writev(MemorySegment[] iovs, int iovcnt, long offset, IoCallback callback, Object context) {
        return rw(BlkIo.OP_WRITE, iovs, null, iovcnt, offset, callback, context);
    }

    private boolean rw(int op, MemorySegment[] iovs, MemorySegment single, int iovcnt, long offset,
                       IoCallback callback, Object context) {
        checkUsable(op);
        if (op == BlkIo.OP_WRITE && dev.readOnly()) {
            throw new BdevIoException(Reason.READ_ONLY, "bdev " + dev.name() + " is read-only (VIRTIO_BLK_F_RO): write at offset " + offset + " refused");
        }
        long length = single != null ? checkIov(single, op, 0) : checkIovs(iovs, iovcnt, op);
        checkRange(op, offset, length);
        BlkIo io = takeIo();
        if (io == null) {
            return false;
        }
        if (single != null) {
            io.single[0] = single;
            iovs = io.single;
        }
        io.op = op;
        io.iovs = iovs;
        io.iovcnt = iovcnt;
        start(io, offset, length, callback, context);
        return true;
    }

    @Override
    public boolean flush(IoCallback callback, Object context) {
        checkUsable(BlkIo.OP_FLUSH);
        if (!dev.hasFlush()) {
            throw new BdevIoException(Reason.UNSUPPORTED, "bdev " + dev.name() + ": flush is not supported (VIRTIO_BLK_F_FLUSH not offered; the device writes through)");
        }
        return simple(BlkIo.OP_FLUSH, null, callback, context);
    }

    /**
     * Reads the device's serial (VIRTIO_BLK_T_GET_ID) into {@code buffer}, which must be at least 20 bytes.
     */
    public boolean getId(MemorySegment buffer, IoCallback callback, Object context) {
        checkUsable(BlkIo.OP_GET_ID);
        if (buffer.byteSize() < VIRTIO_BLK_ID_BYTES) {
            throw new BdevIoException(Reason.INVALID_ARGUMENT, "bdev " + dev.name() + ": get_id buffer of " + buffer.byteSize() + " bytes, need " + VIRTIO_BLK_ID_BYTES);
        }
        checkIov(buffer, BlkIo.OP_GET_ID, 0);
        return simple(BlkIo.OP_GET_ID, buffer, callback, context);
    }

    @Override
    public boolean reset(IoCallback callback, Object context) {
        checkUsable(BlkIo.OP_RESET);
        BlkIo io = takeIo();
        if (io == null) {
            return false;
        }
        io.op = BlkIo.OP_RESET;
        io.remaining = 0;
        io.callback = callback;
        io.context = context;
        // virtio-blk has no reset command: as SPDK, a reset completes once earlier I/O has drained.
        enqueue(io);
        return true;
    }

    private boolean simple(int op, MemorySegment buffer, IoCallback callback, Object context) {
        BlkIo io = takeIo();
        if (io == null) {
            return false;
        }
        io.op = op;
        io.single[0] = buffer;
        io.iovs = io.single;
        io.iovcnt = buffer == null ? 0 : 1;
        start(io, 0, 1, callback, context);
        return true;
    }

    @Override
    public boolean unmap(long offset, long length, IoCallback callback, Object context) {
        return dwz(BlkIo.OP_UNMAP, dev.hasDiscard(), "VIRTIO_BLK_F_DISCARD", offset, length, callback, context);
    }

    @Override
    public boolean writeZeroes(long offset, long length, IoCallback callback, Object context) {
        return dwz(BlkIo.OP_WRITE_ZEROES, dev.hasWriteZeroes(), "VIRTIO_BLK_F_WRITE_ZEROES", offset, length, callback, context);
    }

    private boolean dwz(int op, boolean supported, String feature, long offset, long length, IoCallback callback, Object context) {
        checkUsable(op);
        if (!supported) {
            throw new BdevIoException(Reason.UNSUPPORTED, "bdev " + dev.name() + ": " + BlkIo.opName(op) + " is not supported (" + feature + " not offered)");
        }
        if (dev.readOnly()) {
            throw new BdevIoException(Reason.READ_ONLY, "bdev " + dev.name() + " is read-only (VIRTIO_BLK_F_RO): " + BlkIo.opName(op) + " at offset " + offset + " refused");
        }
        checkRange(op, offset, length);
        BlkIo io = takeIo();
        if (io == null) {
            return false;
        }
        io.op = op;
        io.iovcnt = 0;
        start(io, offset, length, callback, context);
        return true;
    }

    private void start(BlkIo io, long offset, long length, IoCallback callback, Object context) {
        io.offset = offset;
        io.sector = offset >>> SECTOR_SHIFT;
        io.remaining = length;
        io.callback = callback;
        io.context = context;
        if (pendingCount > 0 || !advance(io)) {
            enqueue(io);
        }
        vq.reqFlush();
    }

    /**
     * Submits as many requests of {@code io} as the ring and the part pool take.
     *
     * @return true when nothing of {@code io} is left to submit (it may still be in flight)
     */
    private boolean advance(BlkIo io) {
        if (io.op == BlkIo.OP_RESET) {
            if (partsOutstanding == 0) {
                complete(io);
                return true;
            }
            return false;
        }
        while (io.remaining > 0) {
            if (io.error != null) {
                io.remaining = 0; // a failed part ends the I/O: submit no more of it
                break;
            }
            if (freePartTop == 0) {
                return false;
            }
            BlkPart part = parts[freeParts[freePartTop - 1]];
            boolean started;
            try {
                started = submitPart(io, part);
            } catch (VirtioException e) {
                io.error = io.error != null ? io.error : fail(io, e);
                io.remaining = 0;
                break;
            }
            if (!started) {
                return false;
            }
            freePartTop--;
            part.io = io;
            io.partsInFlight++;
            partsOutstanding++;
        }
        if (io.partsInFlight == 0) {
            complete(io);
        }
        return true;
    }

    /** @return false when the ring has no room for the next request now */
    private boolean submitPart(BlkIo io, BlkPart part) {
        return switch (io.op) {
            case BlkIo.OP_READ, BlkIo.OP_WRITE -> submitRw(io, part);
            case BlkIo.OP_UNMAP -> submitDwz(io, part, VIRTIO_BLK_T_DISCARD, maxDiscardSegments, dev.config().maxDiscardSectors(), 0);
            case BlkIo.OP_WRITE_ZEROES -> submitDwz(io, part, VIRTIO_BLK_T_WRITE_ZEROES, maxWriteZeroesSegments,
                    dev.config().maxWriteZeroesSectors(), 0);
            case BlkIo.OP_FLUSH -> submitNoData(io, part, VIRTIO_BLK_T_FLUSH);
            case BlkIo.OP_GET_ID -> submitNoData(io, part, VIRTIO_BLK_T_GET_ID);
            default -> throw new IllegalStateException("op " + io.op);
        };
    }

    private boolean submitRw(BlkIo io, BlkPart part) {
        // Measure the request first: the ring must take all of it or none. Its size is capped
        // (a chain may not exceed 2^32 bytes, spec 2.7.13.1) and cut to whole logical blocks: a
        // device checks each request's sector against its block size.
        long budget = Math.min(io.remaining, VirtioBlkDevice.MAX_REQUEST_BYTES);
        long bytes = measure(io, budget);
        bytes -= bytes % dev.blockSize();
        if (bytes == 0) {
            throw new BdevIoException(Reason.INVALID_ARGUMENT, "bdev " + dev.name() + ": " + BlkIo.opName(io.op) + " at offset " + io.offset + ": "
                    + maxDataSegments + " data segments (seg_max " + dev.config().segMax() + ") of these iovecs do not cover one "
                    + dev.blockSize() + "-byte block; use fewer, larger iovecs");
        }
        int segs = countSegments(io, bytes);
        if (!vq.reqStart(part, segs + 2)) {
            return false;
        }
        int type = io.op == BlkIo.OP_READ ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;
        writeHeader(part, type, io.sector);
        vq.reqAddIov(part.header.address(), REQ_HEADER_SIZE, false);
        boolean deviceWrites = io.op == BlkIo.OP_READ;
        long left = bytes;
        while (left > 0) {
            MemorySegment iov = io.iovs[io.iovIndex];
            long take = Math.min(Math.min(iov.byteSize() - io.iovOffset, segmentBytes), left);
            vq.reqAddIov(iov.address() + io.iovOffset, (int) take, deviceWrites);
            left -= take;
            io.iovOffset += take;
            if (io.iovOffset == iov.byteSize()) {
                io.iovIndex++;
                io.iovOffset = 0;
            }
        }
        vq.reqAddIov(part.status.address(), 1, true);
        io.sector += bytes >>> SECTOR_SHIFT;
        io.remaining -= bytes;
        return true;
    }

    /** @return the bytes the next request can carry from the cursor within the segment limits, at most {@code budget} */
    private long measure(BlkIo io, long budget) {
        int segs = 0;
        long bytes = 0;
        int i = io.iovIndex;
        long off = io.iovOffset;
        while (segs < maxDataSegments && bytes < budget) {
            long take = Math.min(Math.min(io.iovs[i].byteSize() - off, segmentBytes), budget - bytes);
            segs++;
            bytes += take;
            off += take;
            if (off == io.iovs[i].byteSize()) {
                i++;
                off = 0;
            }
        }
        return bytes;
    }

    /** @return how many descriptors the next {@code bytes} from the cursor take */
    private int countSegments(BlkIo io, long bytes) {
        int segs = 0;
        int i = io.iovIndex;
        long off = io.iovOffset;
        while (bytes > 0) {
            long take = Math.min(Math.min(io.iovs[i].byteSize() - off, segmentBytes), bytes);
            segs++;
            bytes -= take;
            off += take;
            if (off == io.iovs[i].byteSize()) {
                i++;
                off = 0;
            }
        }
        return segs;
    }

    private boolean submitDwz(BlkIo io, BlkPart part, int type, int maxSegs, int maxSectors, int flags) {
        if (!vq.reqStart(part, 3)) {
            return false;
        }
        int n = 0;
        long sectorsLeft = io.remaining >>> SECTOR_SHIFT;
        while (n < maxSegs && sectorsLeft > 0) {
            long count = Math.min(sectorsLeft, Integer.toUnsignedLong(maxSectors));
            long base = (long) n * DWZ_SIZE;
            part.dwz.set(LE_LONG, base + DWZ_SECTOR, io.sector);
            part.dwz.set(LE_INT, base + DWZ_NUM_SECTORS, (int) count);
            part.dwz.set(LE_INT, base + DWZ_FLAGS, flags);
            io.sector += count;
            sectorsLeft -= count;
            n++;
        }
        writeHeader(part, type, 0);
        vq.reqAddIov(part.header.address(), REQ_HEADER_SIZE, false);
        vq.reqAddIov(part.dwz.address(), n * DWZ_SIZE, false);
        vq.reqAddIov(part.status.address(), 1, true);
        io.remaining = sectorsLeft << SECTOR_SHIFT;
        return true;
    }

    private boolean submitNoData(BlkIo io, BlkPart part, int type) {
        boolean withBuffer = io.iovcnt > 0;
        if (!vq.reqStart(part, withBuffer ? 3 : 2)) {
            return false;
        }
        writeHeader(part, type, 0);
        vq.reqAddIov(part.header.address(), REQ_HEADER_SIZE, false);
        if (withBuffer) {
            vq.reqAddIov(io.iovs[0].address(), VIRTIO_BLK_ID_BYTES, true);
        }
        vq.reqAddIov(part.status.address(), 1, true);
        io.remaining = 0;
        return true;
    }

    private static void writeHeader(BlkPart part, int type, long sector) {
        part.type = type;
        part.sector = sector;
        part.header.set(LE_INT, REQ_TYPE, type);
        part.header.set(LE_INT, REQ_RESERVED, 0);
        part.header.set(LE_LONG, REQ_SECTOR, sector);
        part.status.set(JAVA_BYTE, 0, BlkPart.STATUS_UNSET);
    }

    // ---------------------------------------------------------------- completion

    @Override
    public int poll() {
        int before = completed;
        if (dev.isClosed() && !closed) {
            failEverything(new BdevIoException(Reason.CLOSED, "bdev " + dev.name() + " was closed with I/O in flight"));
            return completed - before;
        }
        vq.poll(POLL_BATCH, this);
        if (pendingCount > 0) {
            drainPending();
        }
        return completed - before;
    }

    private void drainPending() {
        while (pendingCount > 0) {
            // Dequeue before advancing: completing the I/O may run a callback that reuses it.
            BlkIo io = dequeue();
            if (!advance(io)) {
                pushFront(io);
                break;
            }
        }
        // Flush even when the head I/O is still waiting: advance() may have started some of its parts.
        vq.reqFlush();
    }

    @Override
    public void onUsed(Object cookie, int len) {
        BlkPart part = (BlkPart) cookie;
        BlkIo io = part.io;
        int status = Byte.toUnsignedInt(part.status.get(JAVA_BYTE, 0));
        if (status != VIRTIO_BLK_S_OK && io.error == null) {
            io.error = new BdevIoException(Reason.DEVICE_STATUS, "bdev " + dev.name() + ": " + typeName(part.type) + " at sector " + part.sector
                    + " (" + BlkIo.opName(io.op) + " of offset " + io.offset + ") completed with "
                    + (status == Byte.toUnsignedInt(BlkPart.STATUS_UNSET) ? "no status (the device did not write the status byte)"
                    : statusName(status)));
        }
        partDone(part, io);
    }

    @Override
    public void onError(Object cookie, VirtioException error) {
        BlkPart part = (BlkPart) cookie;
        BlkIo io = part.io;
        if (io.error == null) {
            io.error = fail(io, error);
        }
        partDone(part, io);
    }

    private BdevIoException fail(BlkIo io, VirtioException cause) {
        return new BdevIoException(BdevIoException.reasonOf(cause, Reason.QUEUE_BROKEN), "bdev " + dev.name() + ": " + BlkIo.opName(io.op) + " at offset " + io.offset
                + " failed: " + cause.getMessage(), cause);
    }

    private void partDone(BlkPart part, BlkIo io) {
        part.io = null;
        freeParts[freePartTop++] = part.slot;
        partsOutstanding--;
        io.partsInFlight--;
        if (io.partsInFlight == 0 && !io.queued && (io.remaining == 0 || io.error != null)) {
            complete(io);
        }
    }

    private void complete(BlkIo io) {
        IoCallback cb = io.callback;
        Object ctx = io.context;
        VirtioException err = io.error;
        io.clear();
        freeIos[freeIoTop++] = io.slot;
        iosInFlight--;
        completed++;
        if (cb != null) {
            try {
                cb.onComplete(ctx, err);
            } catch (RuntimeException e) {
                LOG.error("bdev {}: I/O completion callback threw", dev.name(), e);
            }
        }
    }

    // ---------------------------------------------------------------- bookkeeping

    private BlkIo takeIo() {
        if (freeIoTop == 0) {
            return null;
        }
        iosInFlight++;
        return ios[freeIos[--freeIoTop]];
    }

    private BlkIo dequeue() {
        BlkIo io = pending[pendingHead];
        pending[pendingHead] = null;
        pendingHead = (pendingHead + 1) % pending.length;
        pendingCount--;
        io.queued = false;
        return io;
    }

    private void pushFront(BlkIo io) {
        pendingHead = (pendingHead - 1 + pending.length) % pending.length;
        pending[pendingHead] = io;
        pendingCount++;
        io.queued = true;
    }

    private void enqueue(BlkIo io) {
        io.queued = true;
        pending[(pendingHead + pendingCount) % pending.length] = io;
        pendingCount++;
    }

    @Override
    public int inFlight() {
        return iosInFlight;
    }

    private void checkUsable(int op) {
        if (closed) {
            throw new BdevIoException(Reason.CLOSED, "bdev " + dev.name() + ": " + BlkIo.opName(op) + " on a closed channel");
        }
        if (vq.isBroken()) {
            throw new BdevIoException(Reason.QUEUE_BROKEN, "bdev " + dev.name() + ": " + BlkIo.opName(op) + " refused, queue " + vq.name()
                    + " is broken: " + vq.brokenReason());
        }
        if (dev.isClosed()) {
            throw new BdevIoException(Reason.CLOSED, "bdev " + dev.name() + ": " + BlkIo.opName(op) + " refused, the device is closed");
        }
    }

    private long checkIovs(MemorySegment[] iovs, int iovcnt, int op) {
        if (iovs == null || iovcnt < 1 || iovcnt > iovs.length) {
            throw new BdevIoException(Reason.INVALID_ARGUMENT, "bdev " + dev.name() + ": " + BlkIo.opName(op) + " with iovcnt " + iovcnt
                    + " of an array of " + (iovs == null ? 0 : iovs.length));
        }
        long total = 0;
        for (int i = 0; i < iovcnt; i++) {
            total += checkIov(iovs[i], op, i);
        }
        return total;
    }

    private long checkIov(MemorySegment iov, int op, int index) {
        long n = iov.byteSize();
        if (n == 0 || (n & (SECTOR_SIZE - 1)) != 0 && op != BlkIo.OP_GET_ID) {
            throw new BdevIoException(Reason.INVALID_ARGUMENT, "bdev " + dev.name() + ": " + BlkIo.opName(op) + " iov[" + index + "] is " + n
                    + " bytes, not a non-zero multiple of 512");
        }
        if (!dev.memory().contains(iov)) {
            throw new BdevIoException(Reason.INVALID_ARGUMENT, "bdev " + dev.name() + ": " + BlkIo.opName(op) + " iov[" + index + "] at 0x"
                    + Long.toHexString(iov.address()) + " (" + n + " bytes) is not in the device's memory domain; "
                    + "allocate I/O buffers with Bdev.allocateBuffer");
        }
        return n;
    }

    private void checkRange(int op, long offset, long length) {
        int bs = dev.blockSize();
        if (offset < 0 || length <= 0 || offset % bs != 0 || length % bs != 0) {
            throw new BdevIoException(Reason.INVALID_ARGUMENT, "bdev " + dev.name() + ": " + BlkIo.opName(op) + " offset " + offset + " length " + length
                    + " must be non-negative, non-empty multiples of the block size " + bs);
        }
        long cap = dev.config().capacityBytes();
        if (offset > cap - length) {
            throw new BdevIoException(Reason.INVALID_ARGUMENT, "bdev " + dev.name() + ": " + BlkIo.opName(op) + " of " + length + " bytes at offset " + offset
                    + " ends past the capacity of " + cap + " bytes");
        }
    }

    // ---------------------------------------------------------------- teardown

    private void failEverything(VirtioException error) {
        vq.failAll(error, this);
        while (pendingCount > 0) {
            BlkIo io = dequeue();
            io.remaining = 0;
            if (io.error == null) {
                io.error = fail(io, error);
            }
            if (io.partsInFlight == 0) {
                complete(io);
            }
        }
    }

    /**
     * Waits up to 5 s for in-flight I/O (polling), fails what is left, and gives the queue back.
     * Must be called by the owning thread.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        if (Thread.currentThread() != owner) {
            LOG.warn("bdev {}: channel on {} closed from thread {}", dev.name(), vq.name(), Thread.currentThread().getName());
        }
        long deadline = System.nanoTime() + CLOSE_DRAIN_NANOS;
        while (iosInFlight > 0 && !vq.isBroken() && !dev.isClosed() && System.nanoTime() < deadline) {
            poll();
        }
        if (iosInFlight > 0 && !vq.isBroken() && !dev.isClosed()) {
            // The device still owns those requests and may yet complete them into this ring and these
            // buffers: fail them to the caller, but neither rewrite the ring nor hand it to anyone.
            int stuck = iosInFlight;
            failFromRecords(new BdevIoException(Reason.TIMED_OUT, "bdev " + dev.name() + ": channel on " + vq.name() + " closed with " + stuck
                    + " I/Os the device did not complete in " + CLOSE_DRAIN_NANOS / 1_000_000 + " ms; queue quarantined until the device is closed"));
            closed = true;
            LOG.error("bdev {}: {} I/Os on {} not completed by the device within {} ms; the queue is quarantined until the device is closed",
                    dev.name(), stuck, vq.name(), CLOSE_DRAIN_NANOS / 1_000_000);
            dev.channelQuarantined(this, partMemory);
            return;
        }
        if (iosInFlight > 0) {
            failEverything(new BdevIoException(Reason.CLOSED, "bdev " + dev.name() + ": channel on " + vq.name() + " closed with "
                    + iosInFlight + " I/Os in flight"));
        }
        closed = true;
        dev.channelClosed(this, partMemory);
    }

    /** Fails every caller I/O from the channel's own records, leaving the ring and its descriptors as they are. */
    private void failFromRecords(VirtioException error) {
        for (BlkPart part : parts) {
            BlkIo io = part.io;
            if (io == null) {
                continue;
            }
            part.io = null;
            partsOutstanding--;
            io.partsInFlight--;
            if (io.error == null) {
                io.error = fail(io, error);
            }
            io.remaining = 0;
            if (io.partsInFlight == 0 && !io.queued) {
                complete(io);
            }
        }
        while (pendingCount > 0) {
            BlkIo io = dequeue();
            io.remaining = 0;
            if (io.error == null) {
                io.error = fail(io, error);
            }
            if (io.partsInFlight == 0) {
                complete(io);
            }
        }
    }
}
