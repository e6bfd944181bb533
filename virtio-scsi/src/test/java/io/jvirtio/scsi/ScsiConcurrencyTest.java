package io.jvirtio.scsi;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static io.jvirtio.scsi.ScsiTestSupport.assertSameBytes;
import static io.jvirtio.scsi.ScsiTestSupport.fill;
import static io.jvirtio.scsi.ScsiTestSupport.testOptions;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Several I/O threads on several LUNs, resets, and hot-plug on another target, all at once. */
class ScsiConcurrencyTest {
    @TempDir
    Path dir;

    @Test
    void threadsLunsResetsAndHotplugTogether() throws Exception {
        try (JavaScsiTarget target = JavaScsiTarget.start(dir.resolve("s.sock"),
                ScsiModelOptions.builder().name("tgt").requestQueues(4).build())) {
            target.addLun(0, 0, 8 << 20, 512);
            target.addLun(0, 1, 8 << 20, 4096);
            target.addLun(1, 0, 8 << 20, 4096);
            List<String> events = new CopyOnWriteArrayList<>();
            try (VirtioScsiController ctrl = VirtioScsiController.connectVhostUser("C", target.socket(),
                    testOptions().withRequestQueues(3).withEventThread())) {
                ctrl.addListener(new BdevListener() {
                    @Override
                    public void bdevAdded(Bdev bdev) {
                        events.add("+" + bdev.name());
                    }

                    @Override
                    public void bdevRemoved(Bdev bdev) {
                        events.add("-" + bdev.name());
                    }
                });
                List<VirtioScsiDisk> disks = ctrl.bdevs();
                AtomicBoolean stop = new AtomicBoolean();
                List<CompletableFuture<Long>> workers = new ArrayList<>();
                for (int t = 0; t < 3; t++) {
                    int id = t;
                    CompletableFuture<Long> f = new CompletableFuture<>();
                    workers.add(f);
                    Thread.ofPlatform().name("io-" + t).start(() -> {
                        List<VirtioScsiChannel> chans = new ArrayList<>();
                        try {
                            for (VirtioScsiDisk d : disks) {
                                chans.add(d.openChannel());
                            }
                            SplittableRandom rnd = new SplittableRandom(id);
                            long ops = 0;
                            MemorySegment w = disks.getFirst().allocateBuffer(64 << 10, 4096);
                            MemorySegment r = disks.getFirst().allocateBuffer(64 << 10, 4096);
                            while (!stop.get()) {
                                VirtioScsiChannel ch = chans.get(rnd.nextInt(chans.size()));
                                SyncIo io = new SyncIo(ch);
                                if (rnd.nextInt(50) == 0) {
                                    io.reset();
                                    continue;
                                }
                                int bs = ch.disk().blockSize();
                                long region = ch.disk().blockCount() / 3 * bs;     // each thread its own third
                                long len = bs * (1 + rnd.nextInt((64 << 10) / bs));
                                long off = id * region + (rnd.nextLong(region - len) / bs) * bs;
                                MemorySegment wb = w.asSlice(0, len);
                                MemorySegment rb = r.asSlice(0, len);
                                fill(wb, rnd.nextLong());
                                io.write(wb, off);
                                io.read(rb, off);
                                assertSameBytes(wb, rb, ch.disk().name() + " at " + off);
                                ops++;
                            }
                            f.complete(ops);
                        } catch (Throwable e) {
                            f.completeExceptionally(e);
                        } finally {
                            chans.forEach(VirtioScsiChannel::close);
                        }
                    });
                }
                for (int i = 0; i < 5; i++) {
                    target.addLun(3, i, 1 << 20, 512);
                    Thread.sleep(50);
                }
                for (int i = 0; i < 5; i++) {
                    target.removeLun(3, i);
                    Thread.sleep(50);
                }
                // adds and removes race with the scans: a LUN gone before its scan never becomes a bdev; in the end
                // target 3 has none, and every bdev added was removed
                ScsiTestSupport.await("hot-plug settled", Duration.ofSeconds(10), Thread::onSpinWait,
                        () -> ctrl.bdevs().size() == 3 && ctrl.pendingRemovals() == 0 && !events.isEmpty()
                                && events.stream().filter(e -> e.startsWith("+")).count() == events.stream().filter(e -> e.startsWith("-")).count());
                Thread.sleep(500);
                stop.set(true);
                long total = 0;
                for (CompletableFuture<Long> f : workers) {
                    long n = f.get(30, TimeUnit.SECONDS);
                    assertTrue(n > 10, "each thread made progress: " + n);
                    total += n;
                }
                assertEquals(events.stream().filter(e -> e.startsWith("+")).count(), events.stream().filter(e -> e.startsWith("-")).count(),
                        events.toString());
                assertEquals(3, ctrl.bdevs().size());
                assertTrue(total > 100, "total " + total);
            }
        }
    }
}
