package io.jvirtio.bdev.driver;

import java.lang.foreign.MemorySegment;

/**
 * Plans the data segments of one device request from a caller I/O's iovecs, in one pass: as many
 * bytes as fit in the device's segment count (seg_max) and segment size (size_max), at most a
 * budget (the request size limit), cut to whole logical blocks (a device checks each request
 * against its block size). The planned segments wait in preallocated arrays for the driver to add
 * to its ring; {@link #commit} then moves the I/O past them. Planning changes nothing in the I/O,
 * so a request the ring cannot take yet is simply planned again later.
 *
 * <p>One per request queue, used by its thread only; allocates nothing.
 */
public final class SgCursor {
    private final int maxSegments;
    private final long maxSegmentBytes;
    private final long[] addresses;
    private final int[] lengths;
    private int count;
    private long bytes;
    private int endIndex;
    private long endOffset;

    /**
     * @param maxSegments     data segments one request may carry (seg_max, the chain limit)
     * @param maxSegmentBytes bytes one segment may carry (size_max; at most 2^31-1, a descriptor's length)
     */
    public SgCursor(int maxSegments, long maxSegmentBytes) {
        if (maxSegments < 1 || maxSegmentBytes < 1 || maxSegmentBytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("segments " + maxSegments + " of " + maxSegmentBytes + " bytes");
        }
        this.maxSegments = maxSegments;
        this.maxSegmentBytes = maxSegmentBytes;
        this.addresses = new long[maxSegments];
        this.lengths = new int[maxSegments];
    }

    /**
     * Plans the next request of {@code io} from its iovec position.
     *
     * @param budget    the most bytes the request may carry; at most what the I/O has left
     * @param blockSize the logical block size the request must be a whole multiple of
     * @return the planned bytes, a multiple of {@code blockSize}; 0 when the segments cannot cover a block
     */
    public long plan(DriverIo io, long budget, int blockSize) {
        return plan(io.iovs, io.iovIndex, io.iovOffset, budget, blockSize);
    }

    /**
     * Plans a request from an explicit position in {@code iovs}: for a request planned before and
     * put on the ring again unchanged (a SCSI command retried after UNIT ATTENTION or BUSY), or for a
     * driver's own buffer. {@link #commit} then moves nothing but the position this plan ends at.
     *
     * @param index  the iovec to start in
     * @param offset the byte in it to start at
     * @return the planned bytes, as {@link #plan(DriverIo, long, int)}
     */
    public long plan(MemorySegment[] iovs, int index, long offset, long budget, int blockSize) {
        int i = index;
        long off = offset;
        int n = 0;
        long total = 0;
        while (n < maxSegments && total < budget) {
            MemorySegment iov = iovs[i];
            long size = iov.byteSize();
            long take = Math.min(Math.min(size - off, maxSegmentBytes), budget - total);
            addresses[n] = iov.address() + off;
            lengths[n] = (int) take;
            n++;
            total += take;
            off += take;
            if (off == size) {
                i++;
                off = 0;
            }
        }
        // Give back the tail that is not a whole block: from the segments and from the position.
        long excess = total % blockSize;
        total -= excess;
        while (excess > 0) {
            int last = lengths[n - 1];
            long back = Math.min(excess, last);
            if (back == last) {
                n--;
            } else {
                lengths[n - 1] = (int) (last - back);
            }
            if (off == 0) {
                i--;
                off = iovs[i].byteSize();
            }
            off -= back; // a segment never spans iovecs: the tail segment ends at this position
            excess -= back;
        }
        count = n;
        bytes = total;
        endIndex = i;
        endOffset = off;
        return total;
    }

    /** @return the segments the last plan holds */
    public int segments() {
        return count;
    }

    /** @return the bytes the last plan carries */
    public long bytes() {
        return bytes;
    }

    /** @return where planned segment {@code i} starts */
    public long address(int i) {
        return addresses[i];
    }

    /** @return how many bytes planned segment {@code i} carries */
    public int length(int i) {
        return lengths[i];
    }

    /**
     * The planned request is on the ring: moves {@code io}'s iovec position past the bytes it
     * carries. {@link DriverIo#remaining} is the driver's to count down, in its unit.
     */
    public void commit(DriverIo io) {
        io.iovIndex = endIndex;
        io.iovOffset = endOffset;
    }
}
