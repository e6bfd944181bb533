package io.jvirtio.scsi;

import io.jvirtio.bdev.IoCallback;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;

import static io.jvirtio.scsi.ScsiTestSupport.testOptions;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Submitting and completing reads and writes on two LUNs sharing the thread's request queue allocates
 * nothing on the I/O thread (the Java target runs on its own threads, its allocations are not charged).
 */
class ScsiHotPathAllocationTest {
    private static final int OPS = 20_000;
    private static final int DEPTH = 16;
    private static final long ALLOWED_BYTES = 2048;

    @TempDir
    Path dir;

    /** A reusable callback: counts completions and errors. */
    private static final class Counter implements IoCallback {
        long done;
        long errors;
        VirtioException last;

        @Override
        public void onComplete(Object context, VirtioException error) {
            done++;
            if (error != null) {
                errors++;
                last = error;
            }
        }
    }

    @Test
    void readsAndWritesAllocateNothing() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assertTrue(threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled());
        try (JavaScsiTarget target = JavaScsiTarget.start(dir.resolve("s.sock"),
                ScsiModelOptions.builder().name("tgt").requestQueues(2).build())) {
            target.addLun(0, 0, 4 << 20, 512);
            target.addLun(0, 1, 4 << 20, 4096);
            try (VirtioScsiController ctrl = VirtioScsiController.connectVhostUser("A", target.socket(), testOptions());
                 VirtioScsiChannel a = ctrl.disk(0, 0).orElseThrow().openChannel();
                 VirtioScsiChannel b = ctrl.disk(0, 1).orElseThrow().openChannel()) {
                MemorySegment[] bufs = new MemorySegment[DEPTH];
                for (int i = 0; i < DEPTH; i++) {
                    bufs[i] = ctrl.memory().allocate(8192, 4096);
                }
                Counter counter = new Counter();
                run(a, b, bufs, counter);                          // warm up: JIT, pools
                run(a, b, bufs, counter);
                long best = Long.MAX_VALUE;
                for (int attempt = 0; attempt < 5 && best > ALLOWED_BYTES; attempt++) {
                    long before = threads.getCurrentThreadAllocatedBytes();
                    run(a, b, bufs, counter);
                    best = Math.min(best, threads.getCurrentThreadAllocatedBytes() - before);
                }
                assertEquals(0, counter.errors, () -> String.valueOf(counter.last));
                assertTrue(best <= ALLOWED_BYTES, "the I/O thread allocated " + best + " bytes for " + OPS + " I/Os");
            }
        }
    }

    private static void run(VirtioScsiChannel a, VirtioScsiChannel b, MemorySegment[] bufs, Counter counter) {
        long target = counter.done + OPS;
        long submitted = counter.done;
        long deadline = System.nanoTime() + 60_000_000_000L;
        int i = 0;
        while (counter.done < target) {
            while (submitted - counter.done < DEPTH && submitted < target) {
                VirtioScsiChannel ch = (i & 1) == 0 ? a : b;
                MemorySegment buf = bufs[i % DEPTH];
                long off = (i % 256) * 8192L;
                boolean ok = (i & 2) == 0 ? ch.write(buf, off, counter, null) : ch.read(buf, off, counter, null);
                if (!ok) {
                    break;
                }
                submitted++;
                i++;
            }
            a.poll();
            if (System.nanoTime() > deadline) {
                throw new AssertionError("stuck at " + counter.done + " of " + target);
            }
        }
    }
}
