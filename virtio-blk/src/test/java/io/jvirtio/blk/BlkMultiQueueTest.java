package io.jvirtio.blk;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.blk.SimulatedBlkBackend.Request;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static io.jvirtio.core.testing.BlkPatterns.*;
import static org.junit.jupiter.api.Assertions.*;

/** One request queue per thread: two threads get two queues, a third is told how many there are. */
class BlkMultiQueueTest {

    @Test
    void twoThreadsGetTwoQueuesAndAThirdIsRefused() throws Exception {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().numQueues(2);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options().withRequestQueues(2))) {
            assertEquals(2, blk.maxChannels());
            CountDownLatch opened = new CountDownLatch(2);
            CountDownLatch release = new CountDownLatch(1);
            Future<Integer> a = pool.submit(() -> worker(blk, sim, 0, opened, release));
            Future<Integer> b = pool.submit(() -> worker(blk, sim, 1 << 20, opened, release));
            try {
                assertTrue(opened.await(10, TimeUnit.SECONDS), "both workers opened a channel");
                BdevIoException third = assertThrows(BdevIoException.class, blk::openChannel);
                assertTrue(third.getMessage().contains("all 2 request queues are taken"), third.getMessage());
            } finally {
                release.countDown();
            }
            int qa = a.get(10, TimeUnit.SECONDS);
            int qb = b.get(10, TimeUnit.SECONDS);
            assertEquals(Set.of(0, 1), Set.of(qa, qb), "different queues");
            List<Request> reqs = sim.requests();
            assertEquals(Set.of(0, 1), reqs.stream().map(Request::queue).collect(Collectors.toSet()), "the device saw both queues");
            for (Request r : reqs) {
                long expectedSector = (r.queue() == qa ? 0 : 1 << 20) / 512;
                assertEquals(expectedSector, r.sector(), "each thread's I/O on its own queue: " + r);
            }
            try (VirtioBlkChannel ch = blk.openChannel()) {
                assertNotNull(ch, "queues are free again once the workers closed their channels");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static int worker(VirtioBlkDevice blk, SimulatedBlkBackend sim, long offset, CountDownLatch opened,
                              CountDownLatch release) throws InterruptedException {
        try (VirtioBlkChannel ch = blk.openChannel()) {
            MemorySegment buf = blk.allocateBuffer(8192, 4096);
            fill(buf, offset);
            Completions.sync(ch).write(buf, offset);
            assertSameBytes(bytes(buf), sim.diskBytes(offset, 8192), "worker at " + offset);
            opened.countDown();
            assertTrue(release.await(10, TimeUnit.SECONDS));
            assertSame(Thread.currentThread(), blk.device().queueOwner(ch.queue().index()));
            return ch.queue().index();
        }
    }
}
