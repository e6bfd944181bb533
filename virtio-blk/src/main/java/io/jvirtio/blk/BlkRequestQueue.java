package io.jvirtio.blk;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.bdev.driver.DriverRequestQueue;
import io.jvirtio.bdev.driver.SgCursor;
import io.jvirtio.core.ring.Virtqueue;
import io.jvirtio.core.ring.UsedSink;
import io.jvirtio.spec.VirtioException;

import java.lang.foreign.MemorySegment;

import static io.jvirtio.spec.blk.VirtioBlkSpec.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * A channel's virtio-blk request queue: what is virtio-blk in SPDK's {@code submit_request} (how a
 * part of a caller I/O becomes a header, data or segment table, and a status byte on the ring) and
 * in its completion (what the status byte means). The shared life cycle of the queue (parts, the
 * FIFO of waiting I/Os, completion) is {@link DriverRequestQueue}'s.
 */
final class BlkRequestQueue extends DriverRequestQueue<BlkIo, BlkPart> implements UsedSink {
    private final VirtioBlkDevice dev;
    private final Virtqueue vq;
    private final SgCursor sg;
    /** most data segments in one request */
    private final int maxDataSegments;
    private final int maxDiscardSegments;
    private final int maxWriteZeroesSegments;

    BlkRequestQueue(VirtioBlkDevice dev, Virtqueue vq, MemorySegment partMemory, int depth) {
        super(parts(partMemory, vq.size()), depth);
        this.dev = dev;
        this.vq = vq;
        VirtioBlkConfig cfg = dev.config();
        long sizeMax = cfg.sizeMax() != 0 ? Integer.toUnsignedLong(cfg.sizeMax()) : VirtioBlkDevice.MAX_SEGMENT_BYTES;
        long segmentBytes = Math.min(sizeMax, VirtioBlkDevice.MAX_SEGMENT_BYTES) & -SECTOR_SIZE;
        int chainLimit = dev.maxChainDescriptors() - 2; // header and status take two
        this.maxDataSegments = Math.max(1, cfg.segMax() != 0 ? Math.min(cfg.segMax(), chainLimit) : chainLimit);
        this.sg = new SgCursor(maxDataSegments, segmentBytes);
        this.maxDiscardSegments = dwzSegments(cfg.maxDiscardSeg());
        this.maxWriteZeroesSegments = dwzSegments(cfg.maxWriteZeroesSeg());
    }

    private static BlkPart[] parts(MemorySegment memory, int n) {
        BlkPart[] parts = new BlkPart[n];
        for (int i = 0; i < n; i++) {
            parts[i] = new BlkPart(i, memory.asSlice((long) i * BlkPart.STRIDE, BlkPart.STRIDE));
        }
        return parts;
    }

    /** @return segments per discard/write-zeroes request: the device's le32 limit (unsigned), capped by the part's table */
    private static int dwzSegments(int deviceMax) {
        return (int) Math.max(1, Math.min(Integer.toUnsignedLong(deviceMax), BlkPart.MAX_DWZ_SEGMENTS));
    }

    // ---------------------------------------------------------------- submission

    @Override
    protected String queueName() {
        return vq.name();
    }

    @Override
    protected boolean submit(BlkIo io, BlkPart part) {
        return switch (io.type) {
            case VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT -> submitRw(io, part);
            case VIRTIO_BLK_T_DISCARD -> submitDwz(io, part, maxDiscardSegments, dev.config().maxDiscardSectors());
            case VIRTIO_BLK_T_WRITE_ZEROES -> submitDwz(io, part, maxWriteZeroesSegments, dev.config().maxWriteZeroesSectors());
            case VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID -> submitNoData(io, part);
            default -> throw new IllegalStateException("request type " + io.type);
        };
    }

    private boolean submitRw(BlkIo io, BlkPart part) {
        // The ring must take all of the request or none. Its size is capped (a chain may not exceed
        // 2^32 bytes, spec 2.7.13.1) and cut to whole logical blocks: a device checks each request's
        // sector against its block size.
        long budget = Math.min(io.remaining, VirtioBlkDevice.MAX_REQUEST_BYTES);
        long bytes = sg.plan(io, budget, dev.blockSize());
        if (bytes == 0) {
            throw dev.validator().tooFragmented(io.opName(), io.offset, maxDataSegments, dev.config().segMax());
        }
        int segs = sg.segments();
        if (!vq.reqStart(part, segs + 2)) {
            return false;
        }
        writeHeader(part, io.type, io.sector);
        vq.reqAddIov(part.header.address(), REQ_HEADER_SIZE, false);
        boolean deviceWrites = io.type == VIRTIO_BLK_T_IN;
        for (int i = 0; i < segs; i++) {
            vq.reqAddIov(sg.address(i), sg.length(i), deviceWrites);
        }
        vq.reqAddIov(part.status.address(), 1, true);
        sg.commit(io);
        io.sector += bytes >>> SECTOR_SHIFT;
        io.remaining -= bytes;
        return true;
    }

    private boolean submitDwz(BlkIo io, BlkPart part, int maxSegs, int maxSectors) {
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
            part.dwz.set(LE_INT, base + DWZ_FLAGS, 0);
            io.sector += count;
            sectorsLeft -= count;
            n++;
        }
        writeHeader(part, io.type, 0);
        vq.reqAddIov(part.header.address(), REQ_HEADER_SIZE, false);
        vq.reqAddIov(part.dwz.address(), n * DWZ_SIZE, false);
        vq.reqAddIov(part.status.address(), 1, true);
        io.remaining = sectorsLeft << SECTOR_SHIFT;
        return true;
    }

    /** Flush, or GET_ID with the caller's 20-byte buffer. */
    private boolean submitNoData(BlkIo io, BlkPart part) {
        boolean withBuffer = io.iovcnt > 0;
        if (!vq.reqStart(part, withBuffer ? 3 : 2)) {
            return false;
        }
        writeHeader(part, io.type, 0);
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
    public void onUsed(Object cookie, int len) {
        BlkPart part = (BlkPart) cookie;
        BlkIo io = part.io;
        int status = Byte.toUnsignedInt(part.status.get(JAVA_BYTE, 0));
        if (status != VIRTIO_BLK_S_OK && io != null && io.error == null) {
            io.error = new BdevIoException(Reason.DEVICE_STATUS, "bdev " + dev.name() + ": " + typeName(part.type) + " at sector " + part.sector
                    + " (" + io.opName() + " of offset " + io.offset + ") completed with "
                    + (status == Byte.toUnsignedInt(BlkPart.STATUS_UNSET) ? "no status (the device did not write the status byte)"
                    : statusName(status)));
        }
        requestDone(part);
    }

    @Override
    public void onError(Object cookie, VirtioException error) {
        BlkPart part = (BlkPart) cookie;
        BlkIo io = part.io;
        if (io != null && io.error == null) {
            io.error = failure(io, error);
        }
        requestDone(part);
    }

    /** Fails every request the ring holds and every I/O waiting: the device is gone. */
    void failEverything(VirtioException error) {
        vq.failAll(error, this);
        failPending(error);
    }
}
