package io.jvirtio.scsi;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.backend.TargetOptions;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static io.jvirtio.scsi.ScsiTestSupport.allZero;
import static io.jvirtio.scsi.ScsiTestSupport.assertSameBytes;
import static io.jvirtio.scsi.ScsiTestSupport.fill;
import static io.jvirtio.scsi.ScsiTestSupport.testOptions;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Data through every LUN of several targets, checked on the target's stores; splitting; flush, unmap, write-zeroes. */
class ScsiDataTest {
    @TempDir
    Path dir;
    private JavaScsiTarget target;
    private VirtioScsiController ctrl;

    @AfterEach
    void tearDown() {
        if (ctrl != null) {
            ctrl.close();
        }
        if (target != null) {
            target.close();
        }
    }

    private void start(ScsiModelOptions.Builder config, VirtioScsiOptions options) {
        target = JavaScsiTarget.start(dir.resolve("scsi.sock"), config.name("tgt").build(), TargetOptions.defaults());
        target.addLun(0, 0, 4 << 20, 512);
        target.addLun(0, 1, 4 << 20, 4096);
        target.addLun(1, 0, 2 << 20, 4096);
        target.addLun(1, 2, 2 << 20, 512);
        ctrl = VirtioScsiController.connectVhostUser("Scsi0", target.socket(), options);
    }

    @Test
    void dataWrittenThroughEachLunIsOnTheTargetAndReadsBack() {
        start(ScsiModelOptions.builder().requestQueues(2), testOptions());
        assertEquals(4, ctrl.bdevs().size());
        int seed = 1;
        for (VirtioScsiDisk d : ctrl.bdevs()) {
            try (VirtioScsiChannel ch = d.openChannel()) {
                SyncIo io = new SyncIo(ch);
                int bs = d.blockSize();
                long[] offsets = {0, 7L * bs, d.blockCount() * bs - 64L * 1024};
                for (long off : offsets) {
                    MemorySegment buf = d.allocateBuffer(64 * 1024, 4096);
                    fill(buf, seed++);
                    io.write(buf, off);
                    MemorySegment onTarget = target.ram(d.target(), d.lun()).contents().asSlice(off, buf.byteSize());
                    assertSameBytes(buf, onTarget, d.name() + " at " + off + " on the target");
                    MemorySegment back = d.allocateBuffer(64 * 1024, 4096);
                    io.read(back, off);
                    assertSameBytes(buf, back, d.name() + " read back at " + off);
                    d.freeBuffer(buf);
                    d.freeBuffer(back);
                }
                io.flush();
            }
        }
    }

    @Test
    void vectoredIoWithOddIovecsSplitsOnBlockBoundaries() {
        // seg_max 3: a command carries at most 3 data segments
        start(ScsiModelOptions.builder().segMax(3), testOptions());
        VirtioScsiDisk d = ctrl.disk(0, 1).orElseThrow();          // 4 KiB blocks
        MemorySegment whole = d.allocateBuffer(8 * 4096, 4096);
        fill(whole, 42);
        // iovecs of 1 KiB, 3 KiB, 6 KiB, 2 KiB, 512, 3584, 16 KiB: 32 KiB
        long[] sizes = {1024, 3072, 6144, 2048, 512, 3584, 16384};
        MemorySegment[] iovs = new MemorySegment[sizes.length];
        long at = 0;
        for (int i = 0; i < sizes.length; i++) {
            iovs[i] = whole.asSlice(at, sizes[i]);
            at += sizes[i];
        }
        try (VirtioScsiChannel ch = d.openChannel()) {
            SyncIo io = new SyncIo(ch);
            io.writev(iovs, iovs.length, 4096);
            assertSameBytes(whole, target.ram(0, 1).contents().asSlice(4096, whole.byteSize()), "writev on the target");
            MemorySegment back = d.allocateBuffer(whole.byteSize(), 4096);
            MemorySegment[] backIovs = new MemorySegment[sizes.length];
            at = 0;
            for (int i = 0; i < sizes.length; i++) {
                backIovs[i] = back.asSlice(at, sizes[i]);
                at += sizes[i];
            }
            io.readv(backIovs, backIovs.length, 4096);
            assertSameBytes(whole, back, "readv");
        }
    }

    @Test
    void transfersAreSplitByTheBlockLimitsAndMaxSectors() {
        target = JavaScsiTarget.start(dir.resolve("scsi.sock"), ScsiModelOptions.builder().name("tgt").maxSectors(64).build());
        SparseStore store = new SparseStore(8 << 20);
        target.addLun(0, 0, store, 4096, b -> b.maxTransferBytes(16 << 10));   // 4 blocks per command
        SparseStore store2 = new SparseStore(8 << 20);
        target.addLun(0, 1, store2, 512, b -> b);                              // max_sectors 64: 32 KiB per command
        ctrl = VirtioScsiController.connectVhostUser("S", target.socket(), testOptions());
        VirtioScsiDisk d = ctrl.disk(0, 0).orElseThrow();
        assertEquals(4, d.maxRwBlocks);
        VirtioScsiDisk d2 = ctrl.disk(0, 1).orElseThrow();
        assertEquals(64, d2.maxRwBlocks);
        MemorySegment buf = d.allocateBuffer(1 << 20, 4096);
        fill(buf, 5);
        try (VirtioScsiChannel ch = d.openChannel(); VirtioScsiChannel ch2 = d2.openChannel()) {
            new SyncIo(ch).write(buf, 0);
            assertEquals(64, store.writes.get(), "1 MiB in commands of 16 KiB");
            new SyncIo(ch2).write(buf, 0);
            assertEquals(32, store2.writes.get(), "1 MiB in commands of 32 KiB");
            MemorySegment back = d.allocateBuffer(1 << 20, 4096);
            new SyncIo(ch).read(back, 0);
            assertSameBytes(buf, back, "read back");
            new SyncIo(ch2).read(back, 0);
            assertSameBytes(buf, back, "read back lun 1");
        }
    }

    @Test
    void beyond2TiBReadCapacity16AndSixteenByteCdbsAreUsed() {
        target = JavaScsiTarget.start(dir.resolve("scsi.sock"), ScsiModelOptions.builder().name("tgt").build());
        long blocks = (1L << 32) + 4096;
        SparseStore store = new SparseStore(blocks * 512);
        target.addLun(0, 0, store, 512, b -> b);
        ctrl = VirtioScsiController.connectVhostUser("S", target.socket(), testOptions());
        VirtioScsiDisk d = ctrl.disk(0, 0).orElseThrow();
        assertEquals(blocks, d.blockCount(), "READ CAPACITY (10) says 0xFFFFFFFF, (16) tells the truth");
        long offset = ((1L << 32) + 100) * 512;
        MemorySegment buf = d.allocateBuffer(8192, 4096);
        fill(buf, 77);
        try (VirtioScsiChannel ch = d.openChannel()) {
            SyncIo io = new SyncIo(ch);
            io.write(buf, offset);
            // straddling the 2^32 boundary
            io.write(buf, ((1L << 32) - 8) * 512);
            MemorySegment back = d.allocateBuffer(8192, 4096);
            io.read(back, offset);
            assertSameBytes(buf, back, "beyond 2^32 blocks");
            io.read(back, ((1L << 32) - 8) * 512);
            assertSameBytes(buf, back, "across 2^32 blocks");
            io.flush();
            assertTrue(store.flushes.get() >= 1, "SYNCHRONIZE CACHE (16) reached the store");
        }
        MemorySegment onStore = MemorySegment.ofArray(new byte[8192]);
        store.read(offset, onStore);
        assertSameBytes(buf, onStore, "on the store");
    }

    @Test
    void flushReachesTheStore() {
        target = JavaScsiTarget.start(dir.resolve("scsi.sock"), ScsiModelOptions.builder().name("tgt").build());
        SparseStore store = new SparseStore(1 << 20);
        target.addLun(0, 0, store, 512, b -> b);
        ctrl = VirtioScsiController.connectVhostUser("S", target.socket(), testOptions());
        try (VirtioScsiChannel ch = ctrl.disk(0, 0).orElseThrow().openChannel()) {
            int before = store.flushes.get();
            new SyncIo(ch).flush();
            assertEquals(before + 1, store.flushes.get());
        }
    }

    @Test
    void unmapHonoursMaxUnmapLbaCountAndDescriptors() {
        target = JavaScsiTarget.start(dir.resolve("scsi.sock"), ScsiModelOptions.builder().name("tgt").build());
        SparseStore store = new SparseStore(4 << 20);
        target.addLun(0, 0, store, 512, b -> b.maxUnmapBlocks(100).maxUnmapDescriptors(2));
        ctrl = VirtioScsiController.connectVhostUser("S", target.socket(), testOptions());
        VirtioScsiDisk d = ctrl.disk(0, 0).orElseThrow();
        MemorySegment buf = d.allocateBuffer(1 << 20, 4096);
        fill(buf, 8);
        try (VirtioScsiChannel ch = d.openChannel()) {
            SyncIo io = new SyncIo(ch);
            io.write(buf, 0);
            io.unmap(512, 1000 * 512L);                                 // 1000 blocks, 100 per UNMAP
            assertEquals(10, store.discards.get());
            MemorySegment back = d.allocateBuffer(1 << 20, 4096);
            io.read(back, 0);
            assertSameBytes(buf.asSlice(0, 512), back.asSlice(0, 512), "block before the range");
            assertTrue(allZero(back.asSlice(512, 1000 * 512L)), "unmapped blocks read zero (LBPRZ)");
            assertSameBytes(buf.asSlice(1001 * 512L), back.asSlice(1001 * 512L), "blocks after the range");
        }
    }

    @Test
    void writeZeroesUsesWriteSameWithinItsLimit() {
        target = JavaScsiTarget.start(dir.resolve("scsi.sock"), ScsiModelOptions.builder().name("tgt").build());
        SparseStore store = new SparseStore(4 << 20);
        target.addLun(0, 0, store, 4096, b -> b.maxWriteSameBlocks(16));
        ctrl = VirtioScsiController.connectVhostUser("S", target.socket(), testOptions());
        VirtioScsiDisk d = ctrl.disk(0, 0).orElseThrow();
        assertTrue(d.writeSameUnmap, "LBPWS and LBPRZ: WRITE SAME may unmap");
        MemorySegment buf = d.allocateBuffer(1 << 20, 4096);
        fill(buf, 9);
        try (VirtioScsiChannel ch = d.openChannel()) {
            SyncIo io = new SyncIo(ch);
            io.write(buf, 0);
            io.writeZeroes(4096, 100 * 4096L);                          // 100 blocks, 16 per WRITE SAME
            assertEquals(7, store.discards.get() + store.zeroes.get());
            MemorySegment back = d.allocateBuffer(1 << 20, 4096);
            io.read(back, 0);
            assertSameBytes(buf.asSlice(0, 4096), back.asSlice(0, 4096), "block before");
            assertTrue(allZero(back.asSlice(4096, 100 * 4096L)), "zeroed");
            assertSameBytes(buf.asSlice(101 * 4096L), back.asSlice(101 * 4096L), "after");
        }
    }

    @Test
    void unsupportedAndReadOnlyAreRefusedAtSubmission() {
        target = JavaScsiTarget.start(dir.resolve("scsi.sock"), ScsiModelOptions.builder().name("tgt").build());
        target.addLun(0, 0, 1 << 20, 512, b -> b.thinProvisioning(false));
        target.addLun(0, 1, 1 << 20, 512, b -> b.readOnly(true));
        ctrl = VirtioScsiController.connectVhostUser("S", target.socket(), testOptions());
        VirtioScsiDisk thick = ctrl.disk(0, 0).orElseThrow();
        VirtioScsiDisk ro = ctrl.disk(0, 1).orElseThrow();
        MemorySegment buf = thick.allocateBuffer(4096, 4096);
        try (VirtioScsiChannel a = thick.openChannel(); VirtioScsiChannel b = ro.openChannel()) {
            assertTrue(assertThrows(BdevIoException.class, () -> a.unmap(0, 4096, null, null)).getMessage().contains("LBPU"));
            assertTrue(assertThrows(BdevIoException.class, () -> a.writeZeroes(0, 4096, null, null)).getMessage().contains("LBPWS"));
            assertTrue(assertThrows(BdevIoException.class, () -> b.write(buf, 0, null, null)).getMessage().contains("write-protected"));
            assertThrows(BdevIoException.class, () -> a.read(buf, 100, null, null), "misaligned");
            assertThrows(BdevIoException.class, () -> a.read(buf, (1 << 20) - 512, null, null), "past the end");
            MemorySegment heap = MemorySegment.ofArray(new byte[4096]);
            assertTrue(assertThrows(BdevIoException.class, () -> a.read(heap, 0, null, null)).getMessage().contains("memory domain"));
            new SyncIo(b).read(buf, 0);                                     // reads work
            assertEquals(0, a.inFlight());
        }
    }

    @Test
    void lunChannelsOfOneThreadShareItsRequestQueue() throws Exception {
        start(ScsiModelOptions.builder().requestQueues(3), testOptions().withRequestQueues(2));
        List<VirtioScsiDisk> disks = ctrl.bdevs();
        CountDownLatch opened = new CountDownLatch(2);
        CountDownLatch release = new CountDownLatch(1);
        List<CompletableFuture<List<Integer>>> threads = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            int seedBase = t * 100;
            CompletableFuture<List<Integer>> f = new CompletableFuture<>();
            threads.add(f);
            Thread.ofPlatform().start(() -> {
                List<VirtioScsiChannel> chans = new ArrayList<>();
                try {
                    List<Integer> queues = new ArrayList<>();
                    for (VirtioScsiDisk d : disks) {
                        VirtioScsiChannel ch = d.openChannel();
                        chans.add(ch);
                        queues.add(ch.queueIndex());
                    }
                    opened.countDown();
                    // I/O on all four LUNs at once from this thread, then check
                    List<ScsiTestSupport.Outcome> outs = new ArrayList<>();
                    List<MemorySegment> bufs = new ArrayList<>();
                    for (int i = 0; i < chans.size(); i++) {
                        VirtioScsiChannel ch = chans.get(i);
                        MemorySegment b = ch.disk().allocateBuffer(16384, 4096);
                        fill(b, seedBase + i);
                        bufs.add(b);
                        ScsiTestSupport.Outcome o = new ScsiTestSupport.Outcome();
                        outs.add(o);
                        assertTrue(ch.write(b, seedBase * 16384L, o, null));
                    }
                    chans.getFirst().poll();
                    for (int i = 0; i < outs.size(); i++) {
                        outs.get(i).await(chans.get(0), Duration.ofSeconds(10));   // one channel's poll completes all
                        assertEquals(null, outs.get(i).error);
                    }
                    for (int i = 0; i < chans.size(); i++) {
                        VirtioScsiDisk d = chans.get(i).disk();
                        assertSameBytes(bufs.get(i), target.ram(d.target(), d.lun()).contents().asSlice(seedBase * 16384L, 16384),
                                d.name());
                    }
                    release.await(10, TimeUnit.SECONDS);
                    f.complete(queues);
                } catch (Throwable e) {
                    opened.countDown();
                    f.completeExceptionally(e);
                } finally {
                    chans.forEach(VirtioScsiChannel::close);
                }
            });
        }
        assertTrue(opened.await(10, TimeUnit.SECONDS));
        // both request queues taken: a third thread gets a clear error
        CompletableFuture<Throwable> third = new CompletableFuture<>();
        Thread.ofPlatform().start(() -> {
            try {
                disks.getFirst().openChannel().close();
                third.complete(null);
            } catch (Throwable e) {
                third.complete(e);
            }
        });
        Throwable e = third.get(10, TimeUnit.SECONDS);
        release.countDown();
        assertTrue(e instanceof BdevIoException && e.getMessage().contains("request queues"), String.valueOf(e));
        List<Integer> q0 = threads.get(0).get(10, TimeUnit.SECONDS);
        List<Integer> q1 = threads.get(1).get(10, TimeUnit.SECONDS);
        assertEquals(1, q0.stream().distinct().count(), "one queue per thread: " + q0);
        assertEquals(1, q1.stream().distinct().count(), "one queue per thread: " + q1);
        assertNotEquals(q0.getFirst(), q1.getFirst());
        assertFalse(q0.getFirst() == 2 && ctrl.hasDedicatedScanQueue(), "queue 2 is the scan queue");
    }
}
