package io.jvirtio.conformance;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.IoType;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.blk.VirtioBlkChannel;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.RingType;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.spec.VirtioFeatures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static io.jvirtio.core.testing.BlkPatterns.*;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * jvirtio's virtio-blk initiator against a vhost-user-blk target, whatever the target is: a
 * subclass says how to start one ({@link #startTarget}). Data is checked twice: read back through
 * the device, and in the target's storage as the target's own process sees it.
 *
 * <p>The Java target runs it in {@code JavaTargetBlkSuiteTest} (RAM) and {@code JavaTargetFileBlkSuiteTest}
 * (image file); {@code QemuStorageDaemonBlkSuiteTest} runs the same cases against qemu-storage-daemon,
 * so every peer passes the same suite. A case for one target only does not belong here.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class AbstractBlkInitiatorSuite {
    protected static final long DISK_BYTES = 64L << 20;
    protected static final int QUEUES = 4;

    /**
     * What a test asks of the target.
     *
     * @param sizeBytes   capacity
     * @param blockSize   512 or 4096
     * @param queues      request queues
     * @param readOnly    read-only disk
     * @param discard     offer discard
     * @param writeZeroes offer write-zeroes
     */
    public record Disk(long sizeBytes, int blockSize, int queues, boolean readOnly, boolean discard, boolean writeZeroes) {
        public static Disk standard() {
            return new Disk(DISK_BYTES, 512, QUEUES, false, true, true);
        }

        public Disk withBlockSize(int bs) {
            return new Disk(sizeBytes, bs, queues, readOnly, discard, writeZeroes);
        }

        public Disk withReadOnly(boolean ro) {
            return new Disk(sizeBytes, blockSize, queues, ro, discard, writeZeroes);
        }

        public Disk withDiscard(boolean d, boolean wz) {
            return new Disk(sizeBytes, blockSize, queues, readOnly, d, wz);
        }
    }

    /** A started target. */
    public interface StartedTarget extends AutoCloseable {
        /** @return where the initiator connects */
        Path socketPath();

        /** @return {@code length} bytes at {@code offset} as the target's storage holds them (after a flush) */
        byte[] storedBytes(long offset, int length) throws Exception;

        /**
         * @return false when the store cannot be seen outside the target (SPDK's malloc bdevs):
         *         the suite then checks data by reading it back through the device only, and
         *         never calls {@link #storedBytes}
         */
        default boolean storeVisible() {
            return true;
        }

        /** @return the GET_ID answer the target was configured with, or null when the suite cannot know it */
        String serial();

        @Override
        void close();
    }

    /**
     * Starts a target for {@code disk} (skip with an assumption when the target cannot be shaped so).
     *
     * @param dir a directory for sockets and images
     */
    protected abstract StartedTarget startTarget(Disk disk, Path dir) throws Exception;

    /** @return the initiator options for {@code queues} queues: small memory, 128-entry rings */
    protected VirtioBlkOptions initiatorOptions(int queues) {
        return VirtioBlkOptions.defaults().withRequestQueues(queues).withQueueSize(128).withMemoryBytes(32L << 20)
                .withHugePages(HugePagePolicy.NEVER);
    }

    private StartedTarget target;
    private VirtioBlkDevice blk;
    @TempDir
    Path dir;

    @BeforeAll
    void startStandard(@TempDir Path d) throws Exception {
        target = startTarget(Disk.standard(), d);
        blk = VirtioBlkDevice.connectVhostUser("suite0", target.socketPath(), initiatorOptions(QUEUES));
    }

    @AfterAll
    void stopStandard() {
        if (blk != null) {
            blk.close();
        }
        if (target != null) {
            target.close();
        }
    }

    /** @return the ring format the target and {@link #initiatorOptions} lead to (every suite says which) */
    protected abstract RingType expectedRing();

    @Test
    void theRingIsTheOneExpected() {
        boolean packed = blk.device().hasFeature(VirtioFeatures.VIRTIO_F_RING_PACKED);
        assertEquals(expectedRing(), packed ? RingType.PACKED : RingType.SPLIT, "negotiated features 0x"
                + Long.toHexString(blk.device().negotiatedFeatures()));
    }

    @Test
    void configMatchesTheDisk() {
        assertEquals(512, blk.blockSize());
        assertEquals(DISK_BYTES / 512, blk.blockCount());
        assertEquals(DISK_BYTES, blk.config().capacityBytes());
        assertEquals(expectedConfigQueues(QUEUES), blk.config().numQueues());
        assertEquals(QUEUES, blk.maxChannels());
        assertFalse(blk.readOnly());
        for (IoType t : new IoType[] {IoType.READ, IoType.WRITE, IoType.FLUSH}) {
            assertTrue(blk.supports(t), t + " supported");
        }
        assertTrue(blk.supports(IoType.UNMAP), "the target offers VIRTIO_BLK_F_DISCARD");
        assertTrue(blk.supports(IoType.WRITE_ZEROES), "the target offers VIRTIO_BLK_F_WRITE_ZEROES");
        assertEquals("user", blk.driverSpecificInfo().get("virtio") instanceof java.util.Map<?, ?> m ? m.get("type") : null);
    }

    @Test
    void patternsAtManyOffsetsAndSizesReadBackAndLandInTheStore() throws Exception {
        try (VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = new SyncIo(ch);
            int[] sizes = {512, 1024, 4096, 8192, 65536, 131072, 512 * 1024, 1 << 20};
            SplittableRandom r = new SplittableRandom(42);
            for (int round = 0; round < 3; round++) {
                for (int size : sizes) {
                    long offset = r.nextLong((DISK_BYTES - size) / 512) * 512;
                    MemorySegment w = blk.allocateBuffer(size, 4096);
                    MemorySegment rd = blk.allocateBuffer(size, 4096);
                    try {
                        fill(w, offset * 31 + size);
                        io.write(w, offset);
                        io.read(rd, offset);
                        assertSameBytes(bytes(w), bytes(rd), "read back " + size + " B at " + offset);
                        io.flush();
                        assertStored(target, bytes(w), offset, size, "store " + size + " B at " + offset);
                    } finally {
                        blk.freeBuffer(w);
                        blk.freeBuffer(rd);
                    }
                }
            }
        }
    }

    @Test
    void vectoredIoWithManyIovecsIsSplitAndOrdered() throws Exception {
        // 300 iovecs of 4 KiB: more than seg_max and one indirect table, so several requests
        int n = 300;
        int seg = 4096;
        long offset = 8L << 20;
        MemorySegment[] w = new MemorySegment[n];
        MemorySegment[] rd = new MemorySegment[n];
        byte[] expected = new byte[n * seg];
        for (int i = 0; i < n; i++) {
            w[i] = blk.allocateBuffer(seg, 4096);
            rd[i] = blk.allocateBuffer(seg, 4096);
            fill(w[i], 1000 + i);
            System.arraycopy(bytes(w[i]), 0, expected, i * seg, seg);
        }
        try (VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = new SyncIo(ch);
            io.writev(w, n, offset);
            io.readv(rd, n, offset);
            byte[] got = new byte[n * seg];
            for (int i = 0; i < n; i++) {
                System.arraycopy(bytes(rd[i]), 0, got, i * seg, seg);
            }
            assertSameBytes(expected, got, "readv of " + n + " iovecs");
            io.flush();
            assertStored(target, expected, offset, n * seg, "store after writev");
        } finally {
            for (int i = 0; i < n; i++) {
                blk.freeBuffer(w[i]);
                blk.freeBuffer(rd[i]);
            }
        }
    }

    @Test
    void unevenIovecsOfSectorMultiples() throws Exception {
        int[] lens = {512, 1536, 4096, 512, 7680, 1024, 512};
        int total = 0;
        for (int l : lens) {
            total += l;
        }
        MemorySegment[] w = new MemorySegment[lens.length];
        MemorySegment[] rd = new MemorySegment[lens.length];
        byte[] expected = new byte[total];
        int at = 0;
        for (int i = 0; i < lens.length; i++) {
            w[i] = blk.allocateBuffer(lens[i], 512);
            rd[i] = blk.allocateBuffer(lens[i], 512);
            fill(w[i], 77 + i);
            System.arraycopy(bytes(w[i]), 0, expected, at, lens[i]);
            at += lens[i];
        }
        long offset = (3L << 20) + 512;
        try (VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = new SyncIo(ch);
            io.writev(w, lens.length, offset);
            io.readv(rd, lens.length, offset);
            byte[] got = new byte[total];
            at = 0;
            for (int i = 0; i < lens.length; i++) {
                System.arraycopy(bytes(rd[i]), 0, got, at, lens[i]);
                at += lens[i];
            }
            assertSameBytes(expected, got, "uneven readv");
            io.flush();
            assertStored(target, expected, offset, total, "store after uneven writev");
        } finally {
            for (int i = 0; i < lens.length; i++) {
                blk.freeBuffer(w[i]);
                blk.freeBuffer(rd[i]);
            }
        }
    }

    @Test
    void severalQueuesFromSeveralThreads() throws Exception {
        long region = 4L << 20;
        long base = 16L << 20;
        ExecutorService pool = Executors.newFixedThreadPool(QUEUES);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < QUEUES; t++) {
                int id = t;
                futures.add(pool.submit(() -> {
                    writeRegionAtDepth(base + id * region, region, 16, 100 + id);
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } finally {
            pool.shutdown();
        }
        for (int t = 0; t < QUEUES; t++) {
            long start = base + t * region;
            MemorySegment expected = MemorySegment.ofArray(new byte[(int) region]);
            for (long off = 0; off < region; off += 65536) {
                fill(expected.asSlice(off, 65536), (100 + t) * 100_000L + off);
            }
            assertStored(target, bytes(expected), start, (int) region, "thread " + t + " region in the store");
        }
    }

    /** Writes {@code length} bytes in 64 KiB I/Os at queue depth {@code depth} on a channel of this thread, then reads them back. */
    private void writeRegionAtDepth(long start, long length, int depth, int seed) {
        int ioSize = 65536;
        try (VirtioBlkChannel ch = blk.openChannel()) {
            MemorySegment[] bufs = new MemorySegment[depth];
            for (int i = 0; i < depth; i++) {
                bufs[i] = blk.allocateBuffer(ioSize, 4096);
            }
            int total = (int) (length / ioSize);
            int[] done = {0};
            int[] errors = {0};
            boolean[] busy = new boolean[depth];
            long next = 0;
            int submitted = 0;
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (done[0] < total) {
                for (int i = 0; i < depth && submitted < total; i++) {
                    if (!busy[i]) {
                        fill(bufs[i], seed * 100_000L + next);
                        int slot = i;
                        busy[i] = true;
                        assertTrue(ch.write(bufs[i], start + next, (c, e) -> {
                            busy[slot] = false;
                            done[0]++;
                            if (e != null) {
                                errors[0]++;
                            }
                        }, null));
                        next += ioSize;
                        submitted++;
                    }
                }
                ch.poll();
                assertTrue(System.nanoTime() < deadline, "writes did not complete in time");
            }
            assertEquals(0, errors[0], "failed writes");
            SyncIo io = new SyncIo(ch);
            io.flush();
            MemorySegment rd = blk.allocateBuffer(ioSize, 4096);
            MemorySegment exp = MemorySegment.ofArray(new byte[ioSize]);
            for (long off = 0; off < length; off += ioSize) {
                io.read(rd, start + off);
                fill(exp, seed * 100_000L + off);
                assertSameBytes(bytes(exp), bytes(rd), "read back at " + (start + off));
            }
            blk.freeBuffer(rd);
            for (MemorySegment b : bufs) {
                blk.freeBuffer(b);
            }
        }
    }

    @Test
    void discardAndWriteZeroesReadBackAsZeros() throws Exception {
        long offset = 40L << 20;
        int len = 3 << 20;
        try (VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = new SyncIo(ch);
            MemorySegment w = blk.allocateBuffer(len, 4096);
            MemorySegment rd = blk.allocateBuffer(len, 4096);
            fill(w, 5);
            io.write(w, offset);
            io.unmap(offset + 4096, 1 << 20);
            io.writeZeroes(offset + (2 << 20), 65536);
            io.read(rd, offset);
            byte[] expected = bytes(w);
            java.util.Arrays.fill(expected, 4096, 4096 + (1 << 20), (byte) 0);
            java.util.Arrays.fill(expected, 2 << 20, (2 << 20) + 65536, (byte) 0);
            assertSameBytes(expected, bytes(rd), "after discard and write-zeroes");
            io.flush();
            assertStored(target, expected, offset, len, "store after discard and write-zeroes");
            blk.freeBuffer(w);
            blk.freeBuffer(rd);
        }
    }

    @Test
    void writeZeroesAndDiscardLeaveZerosInTheStore() throws Exception {
        int len = 1 << 20;
        long off = 44L << 20;
        MemorySegment w = blk.allocateBuffer(len, 4096);
        try (VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = new SyncIo(ch);
            fill(w, 7);
            io.write(w, off);
            io.flush();
            io.writeZeroes(off + 4096, 256 * 1024);
            io.flush();
            byte[] expected = bytes(w);
            java.util.Arrays.fill(expected, 4096, 4096 + 256 * 1024, (byte) 0);
            MemorySegment back = blk.allocateBuffer(len, 4096);
            io.read(back, off);
            assertSameBytes(expected, bytes(back), "write-zeroes range reads as zeros, its neighbours as written");
            blk.freeBuffer(back);
            assertStored(target, expected, off, len, "write-zeroes range is zero in the store, its neighbours as written");

            io.unmap(off + 512 * 1024, 512 * 1024);
            io.flush();
            MemorySegment rd = blk.allocateBuffer(512 * 1024, 4096);
            rd.fill((byte) 0xA5); // so zeros can only come from the device
            io.read(rd, off + 512 * 1024);
            assertTrue(allZero(bytes(rd)), "discarded range reads back as zeros through the device");
            if (target.storeVisible()) {
                assertTrue(allZero(target.storedBytes(off + 512 * 1024, 512 * 1024)), "discarded range is zero in the store");
            }
            blk.freeBuffer(rd);
        } finally {
            blk.freeBuffer(w);
        }
    }

    @Test
    void largeDiscardIsSplitIntoSegments() throws Exception {
        long offset = 0;
        int len = 48 << 20; // larger than one discard segment of 32 MiB in the Java target
        try (VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = new SyncIo(ch);
            MemorySegment w = blk.allocateBuffer(65536, 4096);
            fill(w, 9);
            io.write(w, offset + len - 65536);
            io.unmap(offset, len);
            MemorySegment rd = blk.allocateBuffer(65536, 4096);
            io.read(rd, offset + len - 65536);
            assertTrue(allZero(bytes(rd)), "the end of a 48 MiB discard reads as zeros");
            blk.freeBuffer(w);
            blk.freeBuffer(rd);
        }
    }

    @Test
    void flushAndGetId() throws Exception {
        try (VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = new SyncIo(ch);
            io.flush();
            MemorySegment id = blk.allocateBuffer(20, 8);
            id.fill((byte) 0x55);
            io.run("get_id", 0, (cb, ctx) -> ch.getId(id, cb, ctx));
            String serial = target.serial();
            if (serial != null) {
                byte[] want = new byte[20];
                byte[] s = serial.getBytes(StandardCharsets.US_ASCII);
                System.arraycopy(s, 0, want, 0, s.length);
                byte[] got = bytes(id);
                assertSameBytes(java.util.Arrays.copyOf(want, Math.min(20, s.length + 1)),
                        java.util.Arrays.copyOf(got, Math.min(20, s.length + 1)), "GET_ID");
            }
            blk.freeBuffer(id);
        }
    }

    @Test
    void readPastTheEndIsRefusedBeforeReachingTheDevice() {
        try (VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = new SyncIo(ch);
            MemorySegment rd = blk.allocateBuffer(4096, 4096);
            assertThrows(BdevIoException.class, () -> io.read(rd, DISK_BYTES - 512));
            blk.freeBuffer(rd);
        }
    }

    @Test
    void badArgumentsAreRefusedBeforeReachingTheDevice() {
        MemorySegment buf = blk.allocateBuffer(4096, 4096);
        try (VirtioBlkChannel ch = blk.openChannel()) {
            BdevIoException past = assertThrows(BdevIoException.class, () -> ch.read(buf, DISK_BYTES, (c, e) -> { }, null));
            assertTrue(past.getMessage().contains("capacity"), past.getMessage());
            BdevIoException mis = assertThrows(BdevIoException.class, () -> ch.read(buf, 100, (c, e) -> { }, null));
            assertTrue(mis.getMessage().contains("offset 100"), mis.getMessage());
            MemorySegment heap = MemorySegment.ofArray(new byte[4096]);
            BdevIoException foreign = assertThrows(BdevIoException.class, () -> ch.write(heap, 0, (c, e) -> { }, null));
            assertTrue(foreign.getMessage().contains("memory domain"), foreign.getMessage());
            assertEquals(0, ch.inFlight());
        } finally {
            blk.freeBuffer(buf);
        }
    }

    @Test
    void readOnlyDiskRefusesWritesAndReadsWhatWasThere() throws Exception {
        try (StartedTarget t = startTarget(Disk.standard().withReadOnly(true), dir);
             VirtioBlkDevice ro = VirtioBlkDevice.connectVhostUser("suite-ro", t.socketPath(), initiatorOptions(1));
             VirtioBlkChannel ch = ro.openChannel()) {
            assertTrue(ro.readOnly());
            assertFalse(ro.supports(IoType.WRITE));
            SyncIo io = new SyncIo(ch);
            MemorySegment buf = ro.allocateBuffer(4096, 4096);
            io.read(buf, 0);
            assertTrue(allZero(bytes(buf)), "a fresh read-only disk reads zeros");
            BdevIoException e = assertThrows(BdevIoException.class, () -> io.write(buf, 0));
            assertTrue(e.getMessage().contains("read-only"), e.getMessage());
        }
    }

    @Test
    void blockSize4096() throws Exception {
        try (StartedTarget t = startTarget(Disk.standard().withBlockSize(4096), dir);
             VirtioBlkDevice b4 = VirtioBlkDevice.connectVhostUser("suite-4k", t.socketPath(), initiatorOptions(1));
             VirtioBlkChannel ch = b4.openChannel()) {
            assertEquals(4096, b4.blockSize());
            assertEquals(DISK_BYTES / 4096, b4.blockCount());
            SyncIo io = new SyncIo(ch);
            MemorySegment w = b4.allocateBuffer(3 * 4096, 4096);
            MemorySegment rd = b4.allocateBuffer(3 * 4096, 4096);
            fill(w, 4096);
            io.write(w, 5 * 4096);
            io.read(rd, 5 * 4096);
            assertSameBytes(bytes(w), bytes(rd), "4K read back");
            io.flush();
            assertStored(t, bytes(w), 5 * 4096, 3 * 4096, "4K store");
            assertThrows(BdevIoException.class, () -> io.write(w.asSlice(0, 512), 0), "512-byte write on a 4K disk");
        }
    }

    @Test
    void withoutDiscardAndWriteZeroesTheyAreNotOffered() throws Exception {
        try (StartedTarget t = startTarget(Disk.standard().withDiscard(false, false), dir);
             VirtioBlkDevice b = VirtioBlkDevice.connectVhostUser("suite-nodwz", t.socketPath(), initiatorOptions(1))) {
            assertFalse(b.supports(IoType.UNMAP));
            assertFalse(b.supports(IoType.WRITE_ZEROES));
        }
    }

    @Test
    void aSecondConnectionSeesTheDataOfTheFirst() throws Exception {
        try (StartedTarget t = startTarget(Disk.standard(), dir)) {
            MemorySegment expected;
            try (VirtioBlkDevice b = VirtioBlkDevice.connectVhostUser("suite-c1", t.socketPath(), initiatorOptions(2));
                 VirtioBlkChannel ch = b.openChannel()) {
                MemorySegment w = b.allocateBuffer(65536, 4096);
                fill(w, 31337);
                expected = MemorySegment.ofArray(bytes(w));
                new SyncIo(ch).write(w, 1 << 20);
            }
            try (VirtioBlkDevice b = VirtioBlkDevice.connectVhostUser("suite-c2", t.socketPath(), initiatorOptions(2));
                 VirtioBlkChannel ch = b.openChannel()) {
                MemorySegment rd = b.allocateBuffer(65536, 4096);
                new SyncIo(ch).read(rd, 1 << 20);
                assertSameBytes(bytes(expected), bytes(rd), "second connection");
            }
        }
    }

    /**
     * @return the {@code num_queues} the target's config space shows for a disk made with
     *         {@code queues} queues (SPDK's vhost-blk always shows its maximum, 256)
     */
    protected int expectedConfigQueues(int queues) {
        return queues;
    }

    /** Checks the target's store holds {@code expected} at {@code offset}, when the store can be seen. */
    protected static void assertStored(StartedTarget t, byte[] expected, long offset, int length, String what) throws Exception {
        if (t.storeVisible()) {
            assertSameBytes(expected, t.storedBytes(offset, length), what);
        }
    }

    /** Lets a subclass skip cases its target cannot be shaped for. */
    protected static void assumeSupported(boolean supported, String why) {
        assumeTrue(supported, why);
    }
}
