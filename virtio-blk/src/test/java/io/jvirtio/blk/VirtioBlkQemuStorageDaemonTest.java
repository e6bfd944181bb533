package io.jvirtio.blk;

import io.jvirtio.spec.blk.VirtioBlkSpec;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.IoType;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.core.testing.RequiresQemuStorageDaemon;
import io.jvirtio.testkit.QemuStorageDaemon;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static io.jvirtio.blk.BlkTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * virtio-blk against a real vhost-user-blk target: qemu-storage-daemon exporting a file. Data is
 * checked twice: read back through the device, and read from the image file on the host.
 */
@RequiresQemuStorageDaemon
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class VirtioBlkQemuStorageDaemonTest {
    private static final long IMAGE_BYTES = 64L << 20;
    private static final int QSD_QUEUES = 4;

    private Path image;
    private QemuStorageDaemon qsd;
    private VirtioBlkDevice blk;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        image = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(IMAGE_BYTES);
        }
        qsd = QemuStorageDaemon.file(image).numQueues(QSD_QUEUES).writable(true).start();
        blk = VirtioBlkDevice.connectVhostUser("VirtioBlk0", qsd.socketPath(),
                VirtioBlkOptions.defaults().withRequestQueues(QSD_QUEUES).withQueueSize(128));
    }

    @AfterAll
    void stop() {
        if (blk != null) {
            blk.close();
        }
        if (qsd != null) {
            qsd.close();
        }
    }

    @Test
    void configMatchesWhatTheDaemonWasStartedWith() {
        assertEquals(512, blk.blockSize());
        assertEquals(IMAGE_BYTES / 512, blk.blockCount());
        assertEquals(IMAGE_BYTES, blk.config().capacityBytes());
        assertEquals(QSD_QUEUES, blk.config().numQueues());
        assertEquals(QSD_QUEUES, blk.maxChannels());
        assertFalse(blk.readOnly());
        assertTrue(blk.supports(IoType.READ) && blk.supports(IoType.WRITE) && blk.supports(IoType.FLUSH));
        assertTrue(blk.supports(IoType.UNMAP), "qemu-storage-daemon offers VIRTIO_BLK_F_DISCARD");
        assertTrue(blk.supports(IoType.WRITE_ZEROES), "qemu-storage-daemon offers VIRTIO_BLK_F_WRITE_ZEROES");
        assertEquals("user", blk.driverSpecificInfo().get("virtio") instanceof java.util.Map<?, ?> m ? m.get("type") : null);
    }

    @Test
    void patternsAtManyOffsetsAndSizesReadBackAndLandInTheFile() throws Exception {
        try (VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = new SyncIo(ch);
            int[] sizes = {512, 1024, 4096, 8192, 65536, 131072, 512 * 1024, 1 << 20};
            SplittableRandom r = new SplittableRandom(42);
            for (int round = 0; round < 3; round++) {
                for (int size : sizes) {
                    long offset = r.nextLong((IMAGE_BYTES - size) / 512) * 512;
                    MemorySegment w = blk.allocateBuffer(size, 4096);
                    MemorySegment rd = blk.allocateBuffer(size, 4096);
                    try {
                        long seed = offset * 31 + size;
                        fill(w, seed);
                        io.write(w, offset);
                        io.read(rd, offset);
                        assertSameBytes(bytes(w), bytes(rd), "read back " + size + " B at " + offset);
                        io.flush();
                        assertSameBytes(bytes(w), readFile(image, offset, size), "host file " + size + " B at " + offset);
                    } finally {
                        blk.freeBuffer(w);
                        blk.freeBuffer(rd);
                    }
                }
            }
        }
    }

    @Test
    void vectoredIoWithManySegmentsIsSplitAndOrdered() throws Exception {
        // 300 iovecs of 4 KiB: more than seg_max and than one indirect table, so several requests.
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
            assertSameBytes(expected, readFile(image, offset, n * seg), "host file after writev");
        } finally {
            for (int i = 0; i < n; i++) {
                blk.freeBuffer(w[i]);
                blk.freeBuffer(rd[i]);
            }
        }
    }

    @Test
    void severalQueuesFromSeveralThreads() throws Exception {
        int threads = QSD_QUEUES;
        long region = 4L << 20;
        long base = 16L << 20;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
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
        for (int t = 0; t < threads; t++) {
            long start = base + t * region;
            MemorySegment expected = MemorySegment.ofArray(new byte[(int) region]);
            for (long off = 0; off < region; off += 65536) {
                fill(expected.asSlice(off, 65536), (100 + t) * 100_000L + off);
            }
            assertSameBytes(bytes(expected), readFile(image, start, (int) region), "thread " + t + " region in host file");
        }
    }

    /** Writes {@code length} bytes in 64 KiB I/Os at queue depth {@code depth} on a channel of this thread. */
    private void writeRegionAtDepth(long start, long length, int depth, int seed) {
        int ioSize = 65536;
        try (VirtioBlkChannel ch = blk.openChannel()) {
            MemorySegment[] bufs = new MemorySegment[depth];
            int[] errors = {0};
            int[] done = {0};
            long next = 0;
            for (int i = 0; i < depth; i++) {
                bufs[i] = blk.allocateBuffer(ioSize, 4096);
            }
            int total = (int) (length / ioSize);
            int submitted = 0;
            boolean[] busy = new boolean[depth];
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
            }
            new SyncIo(ch).flush();
            assertEquals(0, errors[0]);
            for (MemorySegment b : bufs) {
                blk.freeBuffer(b);
            }
        }
    }

    @Test
    void writeZeroesAndDiscardLeaveZerosInTheFile() throws Exception {
        int len = 1 << 20;
        long off = 40L << 20;
        MemorySegment w = blk.allocateBuffer(len, 4096);
        try (VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = new SyncIo(ch);
            fill(w, 7);
            io.write(w, off);
            io.flush();
            assertFalse(allZero(readFile(image, off, len)));
            io.writeZeroes(off + 4096, 256 * 1024);
            io.flush();
            byte[] host = readFile(image, off, len);
            assertTrue(allZero(java.util.Arrays.copyOfRange(host, 4096, 4096 + 256 * 1024)), "write-zeroes range is zero on the host");
            assertSameBytes(java.util.Arrays.copyOfRange(bytes(w), 0, 4096), java.util.Arrays.copyOfRange(host, 0, 4096),
                    "bytes before the write-zeroes range");
            assertSameBytes(java.util.Arrays.copyOfRange(bytes(w), 4096 + 256 * 1024, len),
                    java.util.Arrays.copyOfRange(host, 4096 + 256 * 1024, len), "bytes after the write-zeroes range");

            io.unmap(off + 512 * 1024, 512 * 1024);
            io.flush();
            MemorySegment rd = blk.allocateBuffer(512 * 1024, 4096);
            rd.fill((byte) 0xA5); // so zeros can only come from the device
            io.read(rd, off + 512 * 1024);
            assertTrue(allZero(bytes(rd)), "discarded range reads back as zeros through the device");
            assertTrue(allZero(readFile(image, off + 512 * 1024, 512 * 1024)), "discarded range is zero in the host file");
            blk.freeBuffer(rd);
        } finally {
            blk.freeBuffer(w);
        }
    }

    @Test
    void getIdReturnsTheSerial() {
        MemorySegment id = blk.allocateBuffer(VirtioBlkSpec.VIRTIO_BLK_ID_BYTES, 64);
        try (VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = new SyncIo(ch);
            io.run("get_id", 0, (cb, ctx) -> ch.getId(id, cb, ctx));
            String serial = new String(bytes(id), java.nio.charset.StandardCharsets.US_ASCII).replace("\0", "");
            // qemu-storage-daemon's vhost-user-blk export answers with a fixed serial.
            assertEquals("vhost_user_blk", serial);
        } finally {
            blk.freeBuffer(id);
        }
    }

    @Test
    void badArgumentsAreRefusedBeforeReachingTheDevice() {
        MemorySegment buf = blk.allocateBuffer(4096, 4096);
        try (VirtioBlkChannel ch = blk.openChannel()) {
            BdevIoException past = assertThrows(BdevIoException.class, () -> ch.read(buf, IMAGE_BYTES, (c, e) -> { }, null));
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
}
