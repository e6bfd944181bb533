package io.jvirtio.conformance.reconnect;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.IoCallback;
import io.jvirtio.bdev.IoChannel;
import io.jvirtio.core.LinkListener;
import io.jvirtio.core.VirtioDevice;
import io.jvirtio.spec.VirtioException;

import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The verify workload the reconnect tests run over any bdev (virtio-blk device, virtio-scsi LUN):
 * {@link #THREADS} threads, each with its own channel and {@link #DEPTH} slots; every slot writes a
 * fresh pattern to one of its own blocks, reads it back and compares. Counts what the reconnect
 * tests check: I/Os verified, failed, miscompared, completed twice; and the device's link events.
 */
final class VerifyWorkload {
    static final int THREADS = 2;
    static final int DEPTH = 16;
    static final int IO = 4096;
    /** slots per thread x offsets per slot must fit the disk */
    static final int OFFSETS_PER_SLOT = 64;

    private final Worker[] workers = new Worker[THREADS];
    private final Thread[] threads = new Thread[THREADS];
    private final AtomicBoolean stop = new AtomicBoolean();
    final AtomicInteger reconnects = new AtomicInteger();
    final AtomicLong longestStall = new AtomicLong();
    final ConcurrentLinkedQueue<String> givenUp = new ConcurrentLinkedQueue<>();

    /** Starts the workers on {@code bdev}, counting the link events of {@code device}. */
    VerifyWorkload(Bdev bdev, VirtioDevice device, String threadPrefix) {
        device.addLinkListener(new LinkListener() {
            @Override
            public void reconnected(String name, long stallNanos) {
                reconnects.incrementAndGet();
                longestStall.accumulateAndGet(stallNanos, Math::max);
            }

            @Override
            public void givenUp(String name, String reason) {
                givenUp.add(reason);
            }
        });
        for (int t = 0; t < THREADS; t++) {
            workers[t] = new Worker(bdev, t, stop);
            threads[t] = Thread.ofPlatform().name(threadPrefix + t).start(workers[t]);
        }
    }

    /** Waits until 200 more I/Os than {@code since} were verified; fails on a worker's failure or after {@code millis}. */
    void waitForProgress(long since, long millis, String when) throws InterruptedException {
        long deadline = System.currentTimeMillis() + millis;
        while (total() < since + 200) {
            for (Worker w : workers) {
                assertEquals(null, w.failure, w.failure);
            }
            assertTrue(System.currentTimeMillis() < deadline, "no I/O progress within " + millis + " ms " + when + " (done "
                    + total() + ")");
            Thread.sleep(5);
        }
    }

    /** @return I/Os verified so far */
    long total() {
        long n = 0;
        for (Worker w : workers) {
            n += w.verified.get();
        }
        return n;
    }

    /** Lets every slot finish its current I/O and the threads close their channels. */
    void stop() throws InterruptedException {
        stop.set(true);
        for (Thread t : threads) {
            t.join(30_000);
        }
    }

    /** Every I/O completed once, without error, every read-back equal to its write; the threads drained. */
    void assertClean() {
        for (Worker w : workers) {
            assertEquals(null, w.failure, w.failure);
            assertEquals(0, w.errors.get(), "I/Os that failed");
            assertEquals(0, w.miscompares.get(), "read-backs that differed");
            assertEquals(0, w.duplicates.get(), "completions of an I/O already completed");
            assertTrue(!threads[w.index].isAlive(), "worker " + w.index + " drained its I/O");
        }
    }

    /** The file the target serves holds the last write of every block each slot wrote (the workers have stopped). */
    void assertFileHoldsLastWrites(Path image) throws java.io.IOException {
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "r")) {
            for (Worker w : workers) {
                for (int s = 0; s < DEPTH; s++) {
                    for (int k = 0; k < OFFSETS_PER_SLOT; k++) {
                        long seq = w.lastSeq[s][k];
                        if (seq == 0) {
                            continue;
                        }
                        long off = w.offset(s, k);
                        byte[] got = new byte[IO];
                        f.seek(off);
                        f.readFully(got);
                        assertArrayEquals(pattern(off, seq), got, "file block at " + off);
                    }
                }
            }
        }
    }

    static byte[] pattern(long offset, long seq) {
        byte[] b = new byte[IO];
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < IO; i += 8) {
            bb.putLong(i, offset * 0x9E3779B97F4A7C15L + seq * 31 + i);
        }
        return b;
    }

    /** One thread's verify loop: DEPTH slots, each writes a fresh pattern to one of its own offsets, reads it back, compares. */
    private static final class Worker implements Runnable, IoCallback {
        final int index;
        final Bdev bdev;
        final AtomicBoolean stop;
        final AtomicLong verified = new AtomicLong();
        final AtomicLong errors = new AtomicLong();
        final AtomicLong miscompares = new AtomicLong();
        final AtomicLong duplicates = new AtomicLong();
        final long[][] lastSeq = new long[DEPTH][OFFSETS_PER_SLOT];
        volatile String failure;
        private final boolean[] inFlight = new boolean[DEPTH];
        private final boolean[] reading = new boolean[DEPTH];
        private final int[] current = new int[DEPTH];
        private final long[] seq = new long[DEPTH];
        private MemorySegment[] wbuf;
        private MemorySegment[] rbuf;
        private IoChannel ch;
        private int busy;

        Worker(Bdev bdev, int index, AtomicBoolean stop) {
            this.bdev = bdev;
            this.index = index;
            this.stop = stop;
        }

        long offset(int slot, int k) {
            return ((long) index * DEPTH * OFFSETS_PER_SLOT + (long) k * DEPTH + slot) * IO;
        }

        @Override
        public void run() {
            try {
                ch = bdev.openChannel();
                wbuf = new MemorySegment[DEPTH];
                rbuf = new MemorySegment[DEPTH];
                for (int s = 0; s < DEPTH; s++) {
                    wbuf[s] = bdev.allocateBuffer(IO, IO);
                    rbuf[s] = bdev.allocateBuffer(IO, IO);
                    startWrite(s);
                }
                while (busy > 0) {
                    ch.poll();
                }
                ch.close();
            } catch (RuntimeException | Error t) {
                failure = t.toString();
                throw t;
            }
        }

        private void startWrite(int s) {
            int k = java.util.concurrent.ThreadLocalRandom.current().nextInt(OFFSETS_PER_SLOT);
            current[s] = k;
            seq[s]++;
            long off = offset(s, k);
            MemorySegment.copy(pattern(off, (long) index << 48 | seq[s]), 0, wbuf[s], ValueLayout.JAVA_BYTE, 0, IO);
            reading[s] = false;
            submit(s, true);
        }

        private void submit(int s, boolean write) {
            inFlight[s] = true;
            busy++;
            long off = offset(s, current[s]);
            boolean ok = write ? ch.write(wbuf[s], off, this, s) : ch.read(rbuf[s], off, this, s);
            if (!ok) {
                throw new IllegalStateException("channel refused an I/O at depth " + DEPTH);
            }
        }

        @Override
        public void onComplete(Object context, VirtioException error) {
            int s = (Integer) context;
            if (!inFlight[s]) {
                duplicates.incrementAndGet();
                return;
            }
            inFlight[s] = false;
            busy--;
            if (error != null) {
                errors.incrementAndGet();
                if (failure == null) {
                    failure = error.getMessage();
                }
                return;
            }
            if (!reading[s]) {
                lastSeq[s][current[s]] = (long) index << 48 | seq[s];
                reading[s] = true;
                submit(s, false);
                return;
            }
            if (rbuf[s].mismatch(wbuf[s]) >= 0) {
                miscompares.incrementAndGet();
                byte[] a = rbuf[s].toArray(ValueLayout.JAVA_BYTE);
                if (failure == null) {
                    failure = "miscompare at " + offset(s, current[s]) + ": first bytes " + Arrays.toString(Arrays.copyOf(a, 8));
                }
                return;
            }
            verified.incrementAndGet();
            if (!stop.get()) {
                startWrite(s);
            }
        }
    }

    /** @return the longest stall in milliseconds */
    long longestStallMillis() {
        return TimeUnit.NANOSECONDS.toMillis(longestStall.get());
    }
}
