package io.jvirtio.backend.blk;

import io.jvirtio.backend.device.DeviceRequest;
import io.jvirtio.backend.fault.InjectedError;
import io.jvirtio.backend.store.RamBlockStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static io.jvirtio.spec.blk.VirtioBlkSpec.*;
import static io.jvirtio.core.testing.BlkPatterns.*;
import static org.junit.jupiter.api.Assertions.*;

/** The virtio-blk device model alone: status bytes, lengths and data for every request type and corner. */
class VirtioBlkModelTest {
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private final Arena arena = Arena.ofConfined();
    private final RamBlockStore store = new RamBlockStore(1 << 20, false);

    @AfterEach
    void close() {
        arena.close();
        store.close();
    }

    /** A request whose buffers are plain segments; records its completion. */
    static final class Req implements DeviceRequest {
        final List<MemorySegment> r = new ArrayList<>();
        final List<MemorySegment> w = new ArrayList<>();
        int completed = -1;
        int completions;

        @Override
        public int queueIndex() {
            return 0;
        }

        @Override
        public int readableCount() {
            return r.size();
        }

        @Override
        public MemorySegment readable(int i) {
            return r.get(i);
        }

        @Override
        public int writableCount() {
            return w.size();
        }

        @Override
        public MemorySegment writable(int i) {
            return w.get(i);
        }

        @Override
        public long readableBytes() {
            return r.stream().mapToLong(MemorySegment::byteSize).sum();
        }

        @Override
        public long writableBytes() {
            return w.stream().mapToLong(MemorySegment::byteSize).sum();
        }

        @Override
        public void complete(int bytesWritten) {
            completed = bytesWritten;
            completions++;
        }

        int status() {
            MemorySegment last = w.getLast();
            return Byte.toUnsignedInt(last.get(ValueLayout.JAVA_BYTE, last.byteSize() - 1));
        }
    }

    private MemorySegment header(int type, long sector) {
        MemorySegment h = arena.allocate(REQ_HEADER_SIZE);
        h.set(LE_INT, REQ_TYPE, type);
        h.set(LE_LONG, REQ_SECTOR, sector);
        return h;
    }

    private MemorySegment status() {
        MemorySegment s = arena.allocate(1);
        s.set(ValueLayout.JAVA_BYTE, 0, (byte) 0xff);
        return s;
    }

    private Req out(long sector, MemorySegment data) {
        Req q = new Req();
        q.r.add(header(VIRTIO_BLK_T_OUT, sector));
        q.r.add(data);
        q.w.add(status());
        return q;
    }

    private Req in(long sector, int bytes) {
        Req q = new Req();
        q.r.add(header(VIRTIO_BLK_T_IN, sector));
        q.w.add(arena.allocate(bytes));
        q.w.add(status());
        return q;
    }

    private Req dwz(int type, long... triples) {
        Req q = new Req();
        q.r.add(header(type, 0));
        MemorySegment segs = arena.allocate(triples.length / 3 * DWZ_SIZE);
        for (int i = 0; i < triples.length / 3; i++) {
            segs.set(LE_LONG, i * DWZ_SIZE + DWZ_SECTOR, triples[3 * i]);
            segs.set(LE_INT, i * DWZ_SIZE + DWZ_NUM_SECTORS, (int) triples[3 * i + 1]);
            segs.set(LE_INT, i * DWZ_SIZE + DWZ_FLAGS, (int) triples[3 * i + 2]);
        }
        q.r.add(segs);
        q.w.add(status());
        return q;
    }

    private VirtioBlkModel model(BlkModelOptions o) {
        return new VirtioBlkModel("m", store, o);
    }

    @Test
    void writeThenReadSpanningSeveralSegments() {
        VirtioBlkModel m = model(BlkModelOptions.defaults());
        MemorySegment data = arena.allocate(3 * 512);
        fill(data, 1);
        Req w = new Req();
        // header split over two buffers, data glued to the second
        MemorySegment h = header(VIRTIO_BLK_T_OUT, 8);
        MemorySegment glued = arena.allocate(10 + data.byteSize());
        MemorySegment.copy(h, 6, glued, 0, 10);
        MemorySegment.copy(data, 0, glued, 10, data.byteSize());
        w.r.add(h.asSlice(0, 6));
        w.r.add(glued);
        w.w.add(status());
        m.handle(w);
        assertEquals(VIRTIO_BLK_S_OK, w.status());
        assertEquals(1, w.completed);
        assertSameBytes(bytes(data), bytes(store.contents().asSlice(8 * 512, 3 * 512)), "store");
        Req r = in(8, 3 * 512);
        m.handle(r);
        assertEquals(VIRTIO_BLK_S_OK, r.status());
        assertEquals(3 * 512 + 1, r.completed);
        assertSameBytes(bytes(data), bytes(r.w.getFirst()), "read");
    }

    @Test
    void outOfRangeAndMisalignedAreIoErrors() {
        VirtioBlkModel m = model(BlkModelOptions.defaults());
        Req past = in((1 << 20) / 512, 512);
        m.handle(past);
        assertEquals(VIRTIO_BLK_S_IOERR, past.status());
        assertEquals(1, past.completed, "an error writes only the status");
        Req straddle = in((1 << 20) / 512 - 1, 1024);
        m.handle(straddle);
        assertEquals(VIRTIO_BLK_S_IOERR, straddle.status());
        Req huge = in(-1L, 512);
        m.handle(huge);
        assertEquals(VIRTIO_BLK_S_IOERR, huge.status(), "sector 2^64-1");
        VirtioBlkModel m4k = model(BlkModelOptions.builder().blockSize(4096).build());
        Req mis = in(1, 4096);
        m4k.handle(mis);
        assertEquals(VIRTIO_BLK_S_IOERR, mis.status(), "offset not a multiple of 4096");
        Req partial = in(8, 512);
        m4k.handle(partial);
        assertEquals(VIRTIO_BLK_S_IOERR, partial.status(), "length not a multiple of 4096");
    }

    @Test
    void unknownTypeIsUnsupported() {
        VirtioBlkModel m = model(BlkModelOptions.defaults());
        Req q = new Req();
        q.r.add(header(7, 0));
        q.w.add(status());
        m.handle(q);
        assertEquals(VIRTIO_BLK_S_UNSUPP, q.status());
    }

    @Test
    void readOnlyRefusesWritesDiscardsAndZeroes() {
        VirtioBlkModel m = model(BlkModelOptions.builder().readOnly(true).build());
        assertTrue((m.deviceFeatures() & (1L << VIRTIO_BLK_F_RO)) != 0);
        Req w = out(0, arena.allocate(512));
        m.handle(w);
        assertEquals(VIRTIO_BLK_S_IOERR, w.status());
        Req d = dwz(VIRTIO_BLK_T_DISCARD, 0, 8, 0);
        m.handle(d);
        assertEquals(VIRTIO_BLK_S_IOERR, d.status());
        Req r = in(0, 512);
        m.handle(r);
        assertEquals(VIRTIO_BLK_S_OK, r.status(), "reads work");
    }

    @Test
    void discardAndWriteZeroes() {
        VirtioBlkModel m = model(BlkModelOptions.defaults());
        fill(store.contents(), 5);
        Req d = dwz(VIRTIO_BLK_T_DISCARD, 0, 8, 0, 64, 16, 0);
        m.handle(d);
        assertEquals(VIRTIO_BLK_S_OK, d.status());
        assertTrue(allZero(bytes(store.contents().asSlice(0, 4096))));
        assertTrue(allZero(bytes(store.contents().asSlice(64 * 512, 16 * 512))));
        assertFalse(allZero(bytes(store.contents().asSlice(4096, 512))), "between the segments untouched");
        Req z = dwz(VIRTIO_BLK_T_WRITE_ZEROES, 100, 4, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
        m.handle(z);
        assertEquals(VIRTIO_BLK_S_OK, z.status());
        assertTrue(allZero(bytes(store.contents().asSlice(100 * 512, 4 * 512))));
        Req unmapOnDiscard = dwz(VIRTIO_BLK_T_DISCARD, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
        m.handle(unmapOnDiscard);
        assertEquals(VIRTIO_BLK_S_UNSUPP, unmapOnDiscard.status(), "discard with the UNMAP flag");
        Req unknownFlag = dwz(VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0x4);
        m.handle(unknownFlag);
        assertEquals(VIRTIO_BLK_S_UNSUPP, unknownFlag.status(), "unknown flag");
        Req tooLong = dwz(VIRTIO_BLK_T_DISCARD, 0, BlkModelOptions.DEFAULT_MAX_DWZ_SECTORS + 1L, 0);
        m.handle(tooLong);
        assertEquals(VIRTIO_BLK_S_IOERR, tooLong.status(), "more sectors than max_discard_sectors");
        Req past = dwz(VIRTIO_BLK_T_WRITE_ZEROES, (1 << 20) / 512 - 4, 8, 0);
        m.handle(past);
        assertEquals(VIRTIO_BLK_S_IOERR, past.status(), "past the end");
    }

    @Test
    void discardAndWriteZeroesSwitchedOffAreUnsupported() {
        VirtioBlkModel m = model(BlkModelOptions.builder().discard(false).writeZeroes(false).build());
        assertEquals(0, m.deviceFeatures() & ((1L << VIRTIO_BLK_F_DISCARD) | (1L << VIRTIO_BLK_F_WRITE_ZEROES)));
        Req d = dwz(VIRTIO_BLK_T_DISCARD, 0, 8, 0);
        m.handle(d);
        assertEquals(VIRTIO_BLK_S_UNSUPP, d.status());
        Req z = dwz(VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0);
        m.handle(z);
        assertEquals(VIRTIO_BLK_S_UNSUPP, z.status());
    }

    @Test
    void getIdAnswersTheSerial() {
        VirtioBlkModel m = model(BlkModelOptions.builder().serial("disk-42").build());
        Req q = new Req();
        q.r.add(header(VIRTIO_BLK_T_GET_ID, 0));
        MemorySegment id = arena.allocate(20);
        id.fill((byte) 0x55);
        q.w.add(id);
        q.w.add(status());
        m.handle(q);
        assertEquals(VIRTIO_BLK_S_OK, q.status());
        assertEquals("disk-42", new String(bytes(id.asSlice(0, 7)), StandardCharsets.US_ASCII));
        assertEquals(0, id.get(ValueLayout.JAVA_BYTE, 7), "NUL-terminated when shorter than 20");
        assertEquals(8 + 1, q.completed);
        VirtioBlkModel full = model(BlkModelOptions.builder().serial("01234567890123456789").build());
        Req q2 = new Req();
        q2.r.add(header(VIRTIO_BLK_T_GET_ID, 0));
        q2.w.add(arena.allocate(20));
        q2.w.add(status());
        full.handle(q2);
        assertEquals("01234567890123456789", new String(bytes(q2.w.getFirst()), StandardCharsets.US_ASCII), "20 bytes, no NUL");
    }

    @Test
    void malformedRequests() {
        VirtioBlkModel m = model(BlkModelOptions.defaults());
        Req noStatus = new Req();
        noStatus.r.add(header(VIRTIO_BLK_T_IN, 0));
        m.handle(noStatus);
        assertEquals(0, noStatus.completed, "no writable byte: completed with nothing written");
        Req shortHeader = new Req();
        shortHeader.r.add(arena.allocate(8));
        shortHeader.w.add(status());
        m.handle(shortHeader);
        assertEquals(VIRTIO_BLK_S_IOERR, shortHeader.status());
        Req flush = new Req();
        flush.r.add(header(VIRTIO_BLK_T_FLUSH, 0));
        flush.w.add(status());
        m.handle(flush);
        assertEquals(VIRTIO_BLK_S_OK, flush.status());
        assertEquals(1, flush.completions);
    }

    @Test
    void injectedFailureIsIoErr() {
        VirtioBlkModel m = model(BlkModelOptions.defaults());
        Req r = in(0, 512);
        assertTrue(m.failRequest(r, InjectedError.ioError()));
        assertEquals(VIRTIO_BLK_S_IOERR, r.status());
        assertEquals(1, r.completed);
    }

    @Test
    void configSpaceIsStructVirtioBlkConfig() {
        VirtioBlkModel m = model(BlkModelOptions.builder().blockSize(4096).numQueues(3).sizeMax(65536).segMax(32).build());
        assertEquals(60, m.configSize());
        MemorySegment c = arena.allocate(60);
        m.readConfig(0, c);
        assertEquals((1 << 20) / 512, c.get(LE_LONG, CFG_CAPACITY));
        assertEquals(65536, c.get(LE_INT, CFG_SIZE_MAX));
        assertEquals(32, c.get(LE_INT, CFG_SEG_MAX));
        assertEquals(4096, c.get(LE_INT, CFG_BLK_SIZE));
        assertEquals(3, c.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), CFG_NUM_QUEUES));
        long f = m.deviceFeatures();
        for (int b : new int[] {VIRTIO_BLK_F_SIZE_MAX, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_MQ}) {
            assertTrue((f & (1L << b)) != 0, "feature " + b);
        }
        assertTrue((f & (1L << 32)) != 0, "VIRTIO_F_VERSION_1");
    }

    @Test
    void badOptionsAreRefusedNamingTheValue() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BlkModelOptions.builder().blockSize(1024).build());
        assertTrue(e.getMessage().contains("1024"));
        assertThrows(IllegalArgumentException.class, () -> BlkModelOptions.builder().numQueues(0).build());
        assertThrows(IllegalArgumentException.class, () -> BlkModelOptions.builder().serial("x".repeat(21)).build());
        assertThrows(IllegalArgumentException.class, () -> new VirtioBlkModel("tiny", new RamBlockStore(100, false), BlkModelOptions.defaults()));
    }
}
