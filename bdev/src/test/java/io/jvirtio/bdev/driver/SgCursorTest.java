package io.jvirtio.bdev.driver;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertEquals;

class SgCursorTest {
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment memory = arena.allocate(1 << 22, 4096);

    @AfterEach
    void close() {
        arena.close();
    }

    /** iovecs of the given sizes, laid out back to back */
    private TestIo io(long... sizes) {
        MemorySegment[] iovs = new MemorySegment[sizes.length];
        long at = 0;
        for (int i = 0; i < sizes.length; i++) {
            iovs[i] = memory.asSlice(at, sizes[i]);
            at += sizes[i] + 4096; // a gap: segments of neighbours never look contiguous
        }
        TestIo io = new TestIo();
        io.setData(iovs, null, iovs.length);
        long total = 0;
        for (long s : sizes) {
            total += s;
        }
        io.remaining = total;
        return io;
    }

    /** plans, checks the segments (iovec index, offset in it, length) and commits */
    private static void planAndCommit(SgCursor c, TestIo io, long budget, int blockSize, long expectBytes, long[]... segs) {
        long bytes = c.plan(io, Math.min(budget, io.remaining), blockSize);
        assertEquals(expectBytes, bytes, "planned bytes");
        assertEquals(segs.length, c.segments(), "segments");
        for (int i = 0; i < segs.length; i++) {
            MemorySegment iov = io.iovs[(int) segs[i][0]];
            assertEquals(iov.address() + segs[i][1], c.address(i), "segment " + i + " address");
            assertEquals(segs[i][2], c.length(i), "segment " + i + " length");
        }
        c.commit(io);
        io.remaining -= bytes;
    }

    private static long[] seg(long iov, long offset, long length) {
        return new long[] {iov, offset, length};
    }

    private static void assertAt(TestIo io, int index, long offset) {
        assertEquals(index, io.iovIndex, "iovec index");
        assertEquals(offset, io.iovOffset, "offset in the iovec");
    }

    @Test
    void oneIovecOneSegment() {
        SgCursor c = new SgCursor(8, 1L << 30);
        TestIo io = io(16384);
        planAndCommit(c, io, 1L << 30, 4096, 16384, seg(0, 0, 16384));
        assertAt(io, 1, 0);
        assertEquals(0, io.remaining);
    }

    @Test
    void sizeMaxSplitsAnIovecIntoSegments() {
        SgCursor c = new SgCursor(8, 4096);
        TestIo io = io(12288);
        planAndCommit(c, io, 1L << 30, 512, 12288, seg(0, 0, 4096), seg(0, 4096, 4096), seg(0, 8192, 4096));
        assertAt(io, 1, 0);
    }

    @Test
    void segMaxEndsARequestInsideAnIovec() {
        SgCursor c = new SgCursor(2, 4096);
        TestIo io = io(16384);
        planAndCommit(c, io, 1L << 30, 512, 8192, seg(0, 0, 4096), seg(0, 4096, 4096));
        assertAt(io, 0, 8192);
        planAndCommit(c, io, 1L << 30, 512, 8192, seg(0, 8192, 4096), seg(0, 12288, 4096));
        assertAt(io, 1, 0);
    }

    @Test
    void budgetEndsARequestInsideAnIovec() {
        SgCursor c = new SgCursor(8, 1L << 30);
        TestIo io = io(8192, 8192);
        planAndCommit(c, io, 12288, 4096, 12288, seg(0, 0, 8192), seg(1, 0, 4096));
        assertAt(io, 1, 4096);
        planAndCommit(c, io, 12288, 4096, 4096, seg(1, 4096, 4096));
        assertAt(io, 2, 0);
    }

    @Test
    void aPartialBlockAtSegMaxGoesToTheNextRequest() {
        // 4 KiB blocks from 1.5 KiB iovecs: 4 segments carry 6 KiB, the request takes 4 KiB of them
        SgCursor c = new SgCursor(4, 1L << 30);
        TestIo io = io(1536, 1536, 1536, 1536, 1536, 1536, 1536, 1536);
        planAndCommit(c, io, 1L << 30, 4096, 4096, seg(0, 0, 1536), seg(1, 0, 1536), seg(2, 0, 1024));
        assertAt(io, 2, 1024);
        // the iovec straddles the two requests: the next one starts inside it
        planAndCommit(c, io, 1L << 30, 4096, 4096, seg(2, 1024, 512), seg(3, 0, 1536), seg(4, 0, 1536), seg(5, 0, 512));
        assertAt(io, 5, 512);
    }

    @Test
    void aWholeTrailingSegmentIsGivenBack() {
        // 3 segments: 4096 + 512 + 512 = 5120; a 4096-byte block leaves 1024 over: both 512-byte segments go back
        SgCursor c = new SgCursor(3, 1L << 30);
        TestIo io = io(4096, 512, 512, 3072);
        planAndCommit(c, io, 1L << 30, 4096, 4096, seg(0, 0, 4096));
        assertAt(io, 1, 0);
        planAndCommit(c, io, 1L << 30, 4096, 4096, seg(1, 0, 512), seg(2, 0, 512), seg(3, 0, 3072));
        assertAt(io, 4, 0);
    }

    @Test
    void segmentsThatCannotCoverABlockPlanNothing() {
        SgCursor c = new SgCursor(2, 1L << 30);
        TestIo io = io(512, 512, 512, 512, 512, 512, 512, 512);
        assertEquals(0, c.plan(io, io.remaining, 4096));
        assertEquals(0, c.segments());
        c.commit(io);
        assertAt(io, 0, 0);
    }

    @Test
    void planningTwiceWithoutCommitPlansTheSame() {
        SgCursor c = new SgCursor(2, 4096);
        TestIo io = io(16384);
        io.iovOffset = 4096;
        io.remaining = 12288;
        assertEquals(8192, c.plan(io, io.remaining, 4096));
        assertEquals(8192, c.plan(io, io.remaining, 4096));
        assertEquals(io.iovs[0].address() + 4096, c.address(0));
        assertAt(io, 0, 4096);
    }

    @Test
    void aRequestPlannedAgainFromWhereItStartedGetsTheSameSegments() {
        SgCursor c = new SgCursor(3, 1 << 20);
        TestIo io = io(1024, 1536, 1024, 4096);
        io.remaining -= c.plan(io, io.remaining, 1024); // the first request ends inside iovec 2
        c.commit(io);
        int startIndex = io.iovIndex;
        long startOffset = io.iovOffset;
        assertAt(io, 2, 512);
        long bytes = c.plan(io, io.remaining, 1024);
        assertEquals(4096, bytes);
        assertEquals(2, c.segments());
        long[] addresses = new long[c.segments()];
        int[] lengths = new int[c.segments()];
        for (int i = 0; i < addresses.length; i++) {
            addresses[i] = c.address(i);
            lengths[i] = c.length(i);
        }
        c.commit(io);
        io.remaining -= bytes;
        // a retry: the same bytes from the position the request kept, the I/O has moved on since
        assertEquals(bytes, c.plan(io.iovs, startIndex, startOffset, bytes, 1));
        assertEquals(addresses.length, c.segments());
        for (int i = 0; i < addresses.length; i++) {
            assertEquals(addresses[i], c.address(i), "segment " + i + " address");
            assertEquals(lengths[i], c.length(i), "segment " + i + " length");
        }
    }
}
