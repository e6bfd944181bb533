package io.jvirtio.backend.scsi;

import io.jvirtio.backend.store.RamBlockStore;
import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConcurrencyTest extends ScsiTestBase {
    @Test
    void severalQueueThreadsOnSeveralLuns() throws Exception {
        start(ScsiModelOptions.builder().requestQueues(4).build());
        int threads = 8;
        List<ScsiLun> luns = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            luns.add(addLun(i / 4, i % 4, 1 << 20, i % 2 == 0 ? 512 : 4096));
        }
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                int n = i;
                futures.add(pool.submit(() -> {
                    ScsiLun l = luns.get(n);
                    int bs = l.blockSize();
                    int queue = 2 + n % 4;
                    for (int iter = 0; iter < 200; iter++) {
                        long lba = (iter * 7L) % (l.blockCount() - 4);
                        byte[] data = pattern(4 * bs, n * 1000 + iter);
                        assertGood(ini.cmd(n / 4, n % 4, Cdb.rw16(false, lba, 4)).out(data).queue(queue).split().run());
                        TestInitiator.Response rd = ini.cmd(n / 4, n % 4, Cdb.rw10(true, lba, 4)).in(4 * bs).queue(queue).run();
                        assertGood(rd);
                        assertArrayEquals(data, rd.dataIn());
                        byte[] stored = ((RamBlockStore) l.store()).contents().asSlice(lba * bs, 4L * bs)
                                .toArray(ValueLayout.JAVA_BYTE);
                        assertArrayEquals(data, stored);
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(0, model.inflightCount());
    }

    @Test
    void hotPlugWhileOtherLunsRunIo() throws Exception {
        start(ScsiModelOptions.builder().requestQueues(2).build());
        addLun(0, 0, 1 << 20, 512);
        AtomicBoolean stop = new AtomicBoolean();
        java.util.concurrent.atomic.AtomicInteger ioDone = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger eventsSeen = new java.util.concurrent.atomic.AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            Future<Integer> io = pool.submit(() -> {
                int n = 0;
                while (!stop.get()) {
                    assertGood(ini.cmd(0, 0, Cdb.rw10(false, n % 100, 1)).out(pattern(512, n)).run());
                    n++;
                    ioDone.incrementAndGet();
                }
                return n;
            });
            Future<Integer> events = pool.submit(() -> {
                int n = 0;
                while (!stop.get()) {
                    ini.postEventBuffer(16).usedFuture().get(10, TimeUnit.SECONDS);
                    n++;
                    eventsSeen.incrementAndGet();
                }
                return n;
            });
            Future<Integer> probes = pool.submit(() -> {
                int n = 0;
                while (!stop.get()) {
                    TestInitiator.Response r = ini.cmd(0, 1, Cdb.testUnitReady()).queue(3).run();
                    assertTrue(r.good() || r.status() == 2, "GOOD or LOGICAL UNIT NOT SUPPORTED: " + r);
                    n++;
                }
                return n;
            });
            // at least 50 plug cycles, and until the I/O and event threads really ran beside them (a
            // loaded machine may not schedule them before 50 fast cycles are over); bounded in time
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            for (int i = 0; (i < 50 || ioDone.get() < 20 || eventsSeen.get() < 1) && System.nanoTime() < deadline; i++) {
                addLun(0, 1, 64 << 10, 512);
                model.removeLun(0, 1);
            }
            stop.set(true);
            addLun(0, 2, 64 << 10, 512);                            // unblocks the last event buffer
            assertTrue(io.get(30, TimeUnit.SECONDS) > 0);
            assertTrue(events.get(30, TimeUnit.SECONDS) > 0);
            probes.get(30, TimeUnit.SECONDS);
        } finally {
            stop.set(true);
            pool.shutdownNow();
        }
    }
}
