package io.jvirtio.backend.blk;

import io.jvirtio.backend.device.DeviceRequest;
import io.jvirtio.backend.device.VirtioDeviceModel;
import io.jvirtio.backend.fault.FaultAwareModel;
import io.jvirtio.backend.fault.InjectedError;
import io.jvirtio.backend.store.BlockStore;
import io.jvirtio.spec.VirtioFeatures;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

import static io.jvirtio.spec.blk.VirtioBlkSpec.*;

/**
 * A virtio-blk device (virtio 1.2, section 5.2) over a {@link BlockStore}: IN, OUT, FLUSH, GET_ID,
 * DISCARD and WRITE_ZEROES, with the spec's status bytes: {@code VIRTIO_BLK_S_IOERR} for a request
 * out of range, misaligned, over the advertised limits or writing a read-only disk, and
 * {@code VIRTIO_BLK_S_UNSUPP} for an unknown type, a feature not offered, or an unknown
 * discard/write-zeroes flag. Requests are executed at once, on the queue's thread; any framing of
 * header, data and status over the buffers is accepted.
 *
 * <p>Injected failures ({@link FaultAwareModel}) answer {@code VIRTIO_BLK_S_IOERR} whatever the
 * error asks for. Thread-safe: queues call {@link #handle} concurrently.
 */
public final class VirtioBlkModel implements VirtioDeviceModel, FaultAwareModel {
    private static final Logger LOG = LoggerFactory.getLogger(VirtioBlkModel.class);

    private final String name;
    private final BlockStore store;
    private final BlkModelOptions options;
    private final boolean readOnly;
    private final long capacityBytes;
    private final long features;
    private final byte[] config = new byte[CFG_SIZE];
    private final byte[] serial;
    private volatile long negotiated;
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();

    /**
     * @param name    the device name (logs)
     * @param store   the storage; not closed by the model
     * @param options the device's shape
     * @throws IllegalArgumentException when the store is smaller than one block
     */
    public VirtioBlkModel(String name, BlockStore store, BlkModelOptions options) {
        this.name = name;
        this.store = store;
        this.options = options;
        this.readOnly = options.readOnly() || store.readOnly();
        long size = store.sizeBytes();
        this.capacityBytes = size - size % options.blockSize();
        if (capacityBytes < options.blockSize()) {
            throw new IllegalArgumentException(name + ": store of " + size + " bytes is smaller than one block of " + options.blockSize());
        }
        if (capacityBytes != size) {
            LOG.warn("{}: store of {} bytes is not a whole number of {}-byte blocks; the last {} bytes are not exposed", name, size,
                    options.blockSize(), size - capacityBytes);
        }
        this.features = computeFeatures();
        this.serial = options.serial().getBytes(StandardCharsets.US_ASCII);
        fillConfig();
    }

    private long computeFeatures() {
        long f = VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1) | VirtioFeatures.bit(VirtioFeatures.VIRTIO_RING_F_INDIRECT_DESC)
                | VirtioFeatures.bit(VirtioFeatures.VIRTIO_RING_F_EVENT_IDX) | VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_RING_PACKED)
                | bit(VIRTIO_BLK_F_BLK_SIZE) | bit(VIRTIO_BLK_F_FLUSH) | bit(VIRTIO_BLK_F_TOPOLOGY) | bit(VIRTIO_BLK_F_MQ);
        if (options.segMax() > 0) {
            f |= bit(VIRTIO_BLK_F_SEG_MAX);
        }
        if (options.sizeMax() > 0) {
            f |= bit(VIRTIO_BLK_F_SIZE_MAX);
        }
        if (readOnly) {
            f |= bit(VIRTIO_BLK_F_RO);
        }
        if (options.discard()) {
            f |= bit(VIRTIO_BLK_F_DISCARD);
        }
        if (options.writeZeroes()) {
            f |= bit(VIRTIO_BLK_F_WRITE_ZEROES);
        }
        return f;
    }

    private static long bit(int b) {
        return 1L << b;
    }

    private void fillConfig() {
        MemorySegment c = MemorySegment.ofArray(config);
        c.set(LE_LONG, CFG_CAPACITY, capacityBytes >>> SECTOR_SHIFT);
        c.set(LE_INT, CFG_SIZE_MAX, options.sizeMax());
        c.set(LE_INT, CFG_SEG_MAX, options.segMax());
        c.set(LE_INT, CFG_BLK_SIZE, options.blockSize());
        c.set(ValueLayout.JAVA_BYTE, CFG_PHYSICAL_BLOCK_EXP, (byte) 0);
        c.set(ValueLayout.JAVA_BYTE, CFG_ALIGNMENT_OFFSET, (byte) 0);
        c.set(LE_SHORT, CFG_MIN_IO_SIZE, (short) 1);
        c.set(LE_INT, CFG_OPT_IO_SIZE, 0);
        c.set(ValueLayout.JAVA_BYTE, CFG_WRITEBACK, (byte) 0);
        c.set(LE_SHORT, CFG_NUM_QUEUES, (short) options.numQueues());
        int alignSectors = options.blockSize() >>> SECTOR_SHIFT;
        if (options.discard()) {
            c.set(LE_INT, CFG_MAX_DISCARD_SECTORS, options.maxDiscardSectors());
            c.set(LE_INT, CFG_MAX_DISCARD_SEG, options.maxDiscardSeg());
            c.set(LE_INT, CFG_DISCARD_SECTOR_ALIGNMENT, alignSectors);
        }
        if (options.writeZeroes()) {
            c.set(LE_INT, CFG_MAX_WRITE_ZEROES_SECTORS, options.maxWriteZeroesSectors());
            c.set(LE_INT, CFG_MAX_WRITE_ZEROES_SEG, options.maxWriteZeroesSeg());
            c.set(ValueLayout.JAVA_BYTE, CFG_WRITE_ZEROES_MAY_UNMAP, (byte) 1);
        }
    }

    // ------------------------------------------------------------------ VirtioDeviceModel

    @Override
    public int deviceId() {
        return VIRTIO_ID_BLOCK;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long deviceFeatures() {
        return features;
    }

    @Override
    public void featuresNegotiated(long f) {
        negotiated = f;
    }

    /** @return the features the driver accepted last (0 before SET_FEATURES or after a reset) */
    public long negotiatedFeatures() {
        return negotiated;
    }

    @Override
    public int numQueues() {
        return options.numQueues();
    }

    @Override
    public int configSize() {
        return CFG_SIZE;
    }

    @Override
    public void readConfig(int offset, MemorySegment dst) {
        MemorySegment.copy(MemorySegment.ofArray(config), offset, dst, 0, dst.byteSize());
    }

    @Override
    public void writeConfig(int offset, MemorySegment src) {
        // the only writable field, writeback, needs VIRTIO_BLK_F_CONFIG_WCE, which is not offered
        LOG.debug("{}: config write of {} bytes at offset {} ignored: no writable field", name, src.byteSize(), offset);
    }

    @Override
    public void queueStopped(int queueIndex) {
        // every request is completed before handle() returns: nothing is held
    }

    @Override
    public void reset() {
        negotiated = 0;
    }

    @Override
    public void close() {
        // the store belongs to whoever opened it
    }

    /** @return the options */
    public BlkModelOptions options() {
        return options;
    }

    /** @return the exposed capacity in bytes (the store's size rounded down to whole blocks) */
    public long capacityBytes() {
        return capacityBytes;
    }

    /** @return whether writes are refused */
    public boolean readOnly() {
        return readOnly;
    }

    /** @return the store */
    public BlockStore store() {
        return store;
    }

    /** @return requests handled so far */
    public long requestCount() {
        return requests.get();
    }

    /** @return requests answered with IOERR or UNSUPP so far */
    public long errorCount() {
        return errors.get();
    }

    // ------------------------------------------------------------------ requests

    @Override
    public boolean failRequest(DeviceRequest r, InjectedError error) {
        if (r.writableBytes() < 1) {
            r.complete(0);
            return true;
        }
        errors.incrementAndGet();
        RequestBytes.setStatus(r, VIRTIO_BLK_S_IOERR);
        r.complete(1);
        return true;
    }

    @Override
    public void handle(DeviceRequest r) {
        requests.incrementAndGet();
        if (r.writableBytes() < 1) {
            // nowhere to put a status: the driver sees a used element with len 0
            LOG.warn("{}: queue {}: request without a writable status byte ({} readable, {} writable bytes) dropped", name, r.queueIndex(),
                    r.readableBytes(), r.writableBytes());
            errors.incrementAndGet();
            r.complete(0);
            return;
        }
        long outcome;
        if (r.readableBytes() < REQ_HEADER_SIZE) {
            LOG.warn("{}: queue {}: request header of {} bytes, expected {}", name, r.queueIndex(), r.readableBytes(), REQ_HEADER_SIZE);
            outcome = IOERR;
        } else {
            int type;
            long sector;
            if (r.readableLength(0) >= REQ_HEADER_SIZE) {
                // the usual framing: the header has a buffer of its own
                MemorySegment m = r.readableMemory(0);
                long at = r.readableOffset(0);
                type = m.get(LE_INT, at + REQ_TYPE);
                sector = m.get(LE_LONG, at + REQ_SECTOR);
            } else {
                MemorySegment hdr = MemorySegment.ofArray(new byte[REQ_HEADER_SIZE]);
                RequestBytes.copyReadable(r, 0, hdr);
                type = hdr.get(LE_INT, REQ_TYPE);
                sector = hdr.get(LE_LONG, REQ_SECTOR);
            }
            outcome = execute(r, type, sector);
        }
        int status = status(outcome);
        if (status != VIRTIO_BLK_S_OK) {
            errors.incrementAndGet();
        }
        RequestBytes.setStatus(r, status);
        r.complete((int) written(outcome));
    }

    /*
     * An outcome is a status and the bytes written including the status byte, packed in a long
     * (written << 8 | status) so that a request allocates nothing.
     */
    private static final long OK = outcome(VIRTIO_BLK_S_OK, 1);
    private static final long IOERR = outcome(VIRTIO_BLK_S_IOERR, 1);
    private static final long UNSUPP = outcome(VIRTIO_BLK_S_UNSUPP, 1);

    private static long outcome(int status, long written) {
        return written << Byte.SIZE | status;
    }

    private static int status(long outcome) {
        return (int) (outcome & 0xFF);
    }

    private static long written(long outcome) {
        return outcome >>> Byte.SIZE;
    }

    private long execute(DeviceRequest r, int type, long sector) {
        try {
            return switch (type) {
                case VIRTIO_BLK_T_IN -> read(r, sector);
                case VIRTIO_BLK_T_OUT -> write(r, sector);
                case VIRTIO_BLK_T_FLUSH -> {
                    store.flush();
                    yield OK;
                }
                case VIRTIO_BLK_T_GET_ID -> getId(r);
                case VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES -> discardOrZero(r, type);
                default -> {
                    LOG.debug("{}: queue {}: {} unsupported", name, r.queueIndex(), typeName(type));
                    yield UNSUPP;
                }
            };
        } catch (RuntimeException e) {
            // a store failure is the disk's I/O error, not the driver's fault
            LOG.error("{}: queue {}: {} at sector {} failed: {}", name, r.queueIndex(), typeName(type), Long.toUnsignedString(sector), e.toString());
            return IOERR;
        }
    }

    /**
     * @return null when {@code [sector*512, +length)} is inside the disk and aligned to blocks,
     *         else why not
     */
    private String rangeError(long sector, long length) {
        long capSectors = capacityBytes >>> SECTOR_SHIFT;
        if (Long.compareUnsigned(sector, capSectors) > 0) {
            return "sector " + Long.toUnsignedString(sector) + " beyond the capacity of " + capSectors + " sectors";
        }
        long offset = sector << SECTOR_SHIFT;
        if (length > capacityBytes - offset) {
            return length + " bytes at sector " + sector + " run past the capacity of " + capSectors + " sectors";
        }
        if (offset % options.blockSize() != 0 || length % options.blockSize() != 0) {
            return length + " bytes at sector " + sector + " are not aligned to the " + options.blockSize() + "-byte block size";
        }
        return null;
    }

    private String segmentError(DeviceRequest r, boolean writable, long from, long length) {
        if (options.segMax() > 0) {
            int pieces = RequestBytes.pieces(r, writable, from, length);
            if (pieces > options.segMax()) {
                return pieces + " data segments, more than seg_max " + options.segMax();
            }
        }
        if (options.sizeMax() > 0) {
            long largest = RequestBytes.largestPiece(r, writable, from, length);
            if (largest > options.sizeMax()) {
                return "a data segment of " + largest + " bytes, more than size_max " + options.sizeMax();
            }
        }
        return null;
    }

    private long read(DeviceRequest r, long sector) {
        long length = r.writableBytes() - 1;
        String err = rangeError(sector, length);
        if (err == null) {
            err = segmentError(r, true, 0, length);
        }
        if (err != null) {
            LOG.warn("{}: queue {}: VIRTIO_BLK_T_IN: {}", name, r.queueIndex(), err);
            return IOERR;
        }
        RequestBytes.transfer(r, true, 0, length, store, sector << SECTOR_SHIFT);
        return outcome(VIRTIO_BLK_S_OK, length + 1);
    }

    private long write(DeviceRequest r, long sector) {
        if (readOnly) {
            LOG.warn("{}: queue {}: VIRTIO_BLK_T_OUT at sector {} on a read-only disk", name, r.queueIndex(), Long.toUnsignedString(sector));
            return IOERR;
        }
        long length = r.readableBytes() - REQ_HEADER_SIZE;
        String err = rangeError(sector, length);
        if (err == null) {
            err = segmentError(r, false, REQ_HEADER_SIZE, length);
        }
        if (err != null) {
            LOG.warn("{}: queue {}: VIRTIO_BLK_T_OUT: {}", name, r.queueIndex(), err);
            return IOERR;
        }
        RequestBytes.transfer(r, false, REQ_HEADER_SIZE, length, store, sector << SECTOR_SHIFT);
        return OK;
    }

    private long getId(DeviceRequest r) {
        long room = Math.min(VIRTIO_BLK_ID_BYTES, r.writableBytes() - 1);
        byte[] id = new byte[(int) Math.min(room, serial.length < VIRTIO_BLK_ID_BYTES ? serial.length + 1 : serial.length)];
        System.arraycopy(serial, 0, id, 0, Math.min(serial.length, id.length));
        RequestBytes.copyToWritable(r, 0, MemorySegment.ofArray(id));
        return outcome(VIRTIO_BLK_S_OK, id.length + 1);
    }

    private long discardOrZero(DeviceRequest r, int type) {
        boolean discard = type == VIRTIO_BLK_T_DISCARD;
        String what = typeName(type);
        if (discard ? !options.discard() : !options.writeZeroes()) {
            LOG.debug("{}: queue {}: {} without {} offered", name, r.queueIndex(), what, discard ? "VIRTIO_BLK_F_DISCARD" : "VIRTIO_BLK_F_WRITE_ZEROES");
            return UNSUPP;
        }
        if (readOnly) {
            LOG.warn("{}: queue {}: {} on a read-only disk", name, r.queueIndex(), what);
            return IOERR;
        }
        long payload = r.readableBytes() - REQ_HEADER_SIZE;
        int maxSeg = discard ? options.maxDiscardSeg() : options.maxWriteZeroesSeg();
        long maxSectors = Integer.toUnsignedLong(discard ? options.maxDiscardSectors() : options.maxWriteZeroesSectors());
        if (payload == 0 || payload % DWZ_SIZE != 0 || payload / DWZ_SIZE > maxSeg) {
            LOG.warn("{}: queue {}: {} with {} payload bytes: expected 1..{} segments of {} bytes", name, r.queueIndex(), what, payload, maxSeg,
                    DWZ_SIZE);
            return IOERR;
        }
        int n = (int) (payload / DWZ_SIZE);
        long[] sectors = new long[n];
        long[] counts = new long[n];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment segs = arena.allocate(payload);
            RequestBytes.copyReadable(r, REQ_HEADER_SIZE, segs);
            for (int i = 0; i < n; i++) {
                long at = (long) i * DWZ_SIZE;
                sectors[i] = segs.get(LE_LONG, at + DWZ_SECTOR);
                counts[i] = Integer.toUnsignedLong(segs.get(LE_INT, at + DWZ_NUM_SECTORS));
                int flags = segs.get(LE_INT, at + DWZ_FLAGS);
                // spec 5.2.6.2: unknown flags, and UNMAP on a discard, are UNSUPP
                if ((flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) != 0 || (discard && flags != 0)) {
                    LOG.warn("{}: queue {}: {} segment {} has flags 0x{}", name, r.queueIndex(), what, i, Integer.toHexString(flags));
                    return UNSUPP;
                }
                if (counts[i] > maxSectors) {
                    LOG.warn("{}: queue {}: {} segment {} of {} sectors, more than the limit {}", name, r.queueIndex(), what, i, counts[i], maxSectors);
                    return IOERR;
                }
                String err = rangeError(sectors[i], counts[i] << SECTOR_SHIFT);
                if (err != null) {
                    LOG.warn("{}: queue {}: {} segment {}: {}", name, r.queueIndex(), what, i, err);
                    return IOERR;
                }
            }
        }
        for (int i = 0; i < n; i++) {
            long off = sectors[i] << SECTOR_SHIFT;
            long len = counts[i] << SECTOR_SHIFT;
            if (discard) {
                store.discard(off, len);
            } else {
                store.writeZeroes(off, len);
            }
        }
        return OK;
    }

    @Override
    public String toString() {
        return "VirtioBlkModel[" + name + ", " + capacityBytes + " bytes, bs " + options.blockSize() + (readOnly ? ", ro" : "") + ", "
                + options.numQueues() + " queue(s)]";
    }
}
