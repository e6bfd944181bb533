package io.jvirtio.blk;

import io.jvirtio.bdev.IoCallback;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.core.testing.RequiresQemuStorageDaemon;
import io.jvirtio.testkit.QemuStorageDaemon;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * null-co export: a short throughput smoke at queue depth 32, and the hot path's allocation
 * measured after warm-up (the figure that matters is bytes per I/O on the polling thread).
 */
@RequiresQemuStorageDaemon
class VirtioBlkNullThroughputTest {
    private static final long SIZE = 1L << 30;

    private static final class Loop implements IoCallback {
        final VirtioBlkChannel ch;
        final MemorySegment[] bufs;
        final SplittableRandom random = new SplittableRandom(1);
        long completed;
        long errors;
        boolean stopping;

        Loop(VirtioBlkChannel ch, MemorySegment[] bufs) {
            this.ch = ch;
            this.bufs = bufs;
        }

        void submit(int slot) {
            long off = random.nextLong(SIZE / 4096) * 4096;
            if (!ch.read(bufs[slot], off, this, bufs[slot])) {
                throw new IllegalStateException("channel full");
            }
        }

        @Override
        public void onComplete(Object context, VirtioException error) {
            completed++;
            if (error != null) {
                errors++;
            }
            if (stopping) {
                return;
            }
            MemorySegment b = (MemorySegment) context;
            for (int i = 0; i < bufs.length; i++) {
                if (bufs[i] == b) {
                    submit(i);
                    return;
                }
            }
        }

        long runFor(long nanos) {
            long start = completed;
            long end = System.nanoTime() + nanos;
            while (System.nanoTime() < end) {
                ch.poll();
            }
            return completed - start;
        }
    }

    @Test
    void randomReadsAtDepth32CompleteWithoutErrorsOrAllocation() {
        try (QemuStorageDaemon qsd = QemuStorageDaemon.nullCo(SIZE).numQueues(1).start();
             VirtioBlkDevice blk = VirtioBlkDevice.connectVhostUser("null0", qsd.socketPath(), VirtioBlkOptions.defaults());
             VirtioBlkChannel ch = blk.openChannel()) {
            int depth = 32;
            MemorySegment[] bufs = new MemorySegment[depth];
            for (int i = 0; i < depth; i++) {
                bufs[i] = blk.allocateBuffer(4096, 4096);
            }
            Loop loop = new Loop(ch, bufs);
            for (int i = 0; i < depth; i++) {
                loop.submit(i);
            }
            loop.runFor(1_000_000_000L); // warm-up: JIT, page faults
            com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            long tid = Thread.currentThread().threadId();
            long before = mx.getThreadAllocatedBytes(tid);
            long ios = loop.runFor(1_000_000_000L);
            long allocated = mx.getThreadAllocatedBytes(tid) - before;
            loop.stopping = true;
            long drainDeadline = System.nanoTime() + 5_000_000_000L;
            while (ch.inFlight() > 0 && System.nanoTime() < drainDeadline) {
                ch.poll();
            }
            assertEquals(0, ch.inFlight(), "qemu-storage-daemon completed every I/O");
            assertEquals(0, loop.errors);
            assertTrue(ios > 1000, "at least 1000 IOPS from null-co, got " + ios);
            double perIo = (double) allocated / ios;
            System.out.printf("null-co randread QD32: %d IOPS, %.3f bytes allocated per I/O%n", ios, perIo);
            assertTrue(perIo < 1.0, "hot path allocates " + perIo + " bytes per I/O (" + allocated + " over " + ios + " I/Os)");
        }
    }
}
