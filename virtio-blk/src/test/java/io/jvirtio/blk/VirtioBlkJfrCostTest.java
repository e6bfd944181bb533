package io.jvirtio.blk;

import io.jvirtio.bdev.IoCallback;
import io.jvirtio.bdev.IoStatistics;
import io.jvirtio.bdev.jfr.BdevStatisticsEvent;
import io.jvirtio.core.testing.RequiresQemuStorageDaemon;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.testkit.QemuStorageDaemon;
import jdk.jfr.Configuration;
import jdk.jfr.Recording;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The end-to-end cost of a JFR recording per I/O: null-co randread at QD32, rounds with no
 * recording and with one (the JDK's default settings, every jvirtio event, the statistics event
 * every 100 ms) interleaved; ns/I/O and bytes allocated per I/O printed. The statistics count
 * exactly the I/O completed.
 */
@RequiresQemuStorageDaemon
class VirtioBlkJfrCostTest {
    private static final long SIZE = 1L << 30;
    private static final int DEPTH = 32;
    private static final int ROUNDS = 3;
    private static final long ROUND_NANOS = 1_000_000_000L;

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
    void recordingCostsNothingMeasurablePerIo() throws Exception {
        BdevStatisticsEvent.ensureRegistered();
        try (QemuStorageDaemon qsd = QemuStorageDaemon.nullCo(SIZE).numQueues(1).start();
             VirtioBlkDevice blk = VirtioBlkDevice.connectVhostUser("null0", qsd.socketPath(), VirtioBlkOptions.defaults())) {
            long completed;
            try (VirtioBlkChannel ch = blk.openChannel()) {
                MemorySegment[] bufs = new MemorySegment[DEPTH];
                for (int i = 0; i < DEPTH; i++) {
                    bufs[i] = blk.allocateBuffer(4096, 4096);
                }
                Loop loop = new Loop(ch, bufs);
                for (int i = 0; i < DEPTH; i++) {
                    loop.submit(i);
                }
                loop.runFor(ROUND_NANOS); // warm-up
                com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
                long tid = Thread.currentThread().threadId();
                double[] off = new double[ROUNDS];
                double[] on = new double[ROUNDS];
                long offIos = 0;
                long onIos = 0;
                long offBytes = 0;
                long onBytes = 0;
                for (int r = 0; r < ROUNDS; r++) {
                    long a0 = mx.getThreadAllocatedBytes(tid);
                    long n = loop.runFor(ROUND_NANOS);
                    offBytes += mx.getThreadAllocatedBytes(tid) - a0;
                    offIos += n;
                    off[r] = (double) ROUND_NANOS / n;
                    try (Recording rec = new Recording(Configuration.getConfiguration("default"))) {
                        rec.enable("io.jvirtio.*");
                        rec.enable(BdevStatisticsEvent.NAME).withPeriod(Duration.ofMillis(100));
                        rec.start();
                        long a1 = mx.getThreadAllocatedBytes(tid);
                        n = loop.runFor(ROUND_NANOS);
                        onBytes += mx.getThreadAllocatedBytes(tid) - a1;
                        onIos += n;
                        on[r] = (double) ROUND_NANOS / n;
                        rec.stop();
                    }
                }
                loop.stopping = true;
                long drainDeadline = System.nanoTime() + 5_000_000_000L;
                while (ch.inFlight() > 0 && System.nanoTime() < drainDeadline) {
                    ch.poll();
                }
                assertEquals(0, ch.inFlight());
                assertEquals(0, loop.errors);
                completed = loop.completed;
                System.out.printf("null-co randread QD32, %d rounds of 1 s: recording off %s ns/I/O (%.3f B/I/O), on %s ns/I/O (%.3f B/I/O)%n",
                        ROUNDS, Arrays.toString(round(off)), (double) offBytes / offIos, Arrays.toString(round(on)), (double) onBytes / onIos);
                assertTrue((double) offBytes / offIos < 1.0, "recording off: " + offBytes + " B over " + offIos + " I/Os");
                assertTrue((double) onBytes / onIos < 1.0, "recording on: " + onBytes + " B over " + onIos + " I/Os");
            }
            IoStatistics s = blk.ioStatistics();
            assertEquals(completed, s.read().ops(), "every completed read counted");
            assertEquals(completed * 4096, s.read().bytes());
        }
    }

    private static long[] round(double[] v) {
        return Arrays.stream(v).mapToLong(Math::round).toArray();
    }
}
