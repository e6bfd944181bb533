package io.jvirtio.conformance.reconnect;

import io.jvirtio.bdev.IoCallback;
import io.jvirtio.blk.VirtioBlkChannel;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.LinkListener;
import io.jvirtio.core.ReconnectPolicy;
import io.jvirtio.core.vhostuser.VhostUserOptions;
import io.jvirtio.spec.VirtioException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
 * The target process is SIGKILLed and started again on the same socket, over and over, under a
 * verify workload on several queues from several threads; the device reconnects (client mode) and
 * resubmits what the dead target had taken. Every I/O completes exactly once, without error, every
 * read-back equals what was written, and the file the target serves holds the last write of every
 * block.
 */
class ReconnectTest {
    private static final int RESTARTS = Integer.getInteger("jvirtio.reconnect.restarts", 50);
    private static final int QSD_RESTARTS = Integer.getInteger("jvirtio.reconnect.qsd-restarts", 20);
    private static final int THREADS = 2;
    private static final int DEPTH = 16;
    private static final int IO = 4096;
    private static final long DISK = 64L << 20;
    /** slots per thread x offsets per slot must fit the disk */
    private static final int OFFSETS_PER_SLOT = 64;

    @TempDir
    Path dir;

    /** A target process on a fixed socket that can be killed and started again. */
    interface Target {
        void kill() throws Exception;
    }

    @FunctionalInterface
    interface Launcher {
        Target start() throws Exception;
    }

    /**
     * jvirtio in client mode (it connects) and server mode (it listens, the target connects with
     * {@code --connect}), each with INFLIGHT_SHMFD (the restarted target resubmits what the dead one
     * had popped, from the inflight area jvirtio kept) and without it (jvirtio's own replay alone).
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "server mode {0}, inflight {1}")
    @org.junit.jupiter.params.provider.CsvSource({"false, true", "false, false", "true, true", "true, false"})
    void javaTargetSigkilledAndRestartedLosesNoIo(boolean serverMode, boolean inflight) throws Exception {
        Path sock = dir.resolve("r.sock");
        Path image = image();
        String spec = "file:" + image + ",queues=" + THREADS + (inflight ? "" : ",proto-off=INFLIGHT_SHMFD");
        Path log = dir.resolve("target.log");
        VhostUserOptions vu = serverMode ? VhostUserOptions.builder().server(true, java.time.Duration.ofSeconds(30)).build()
                : VhostUserOptions.defaults();
        run(sock, image, RESTARTS, vu, () -> {
            TargetProcess t = serverMode ? TargetProcess.startClient(sock, log, "--blk", spec) : TargetProcess.start(sock, log, "--blk", spec);
            return t::kill;
        });
        long resubmits = java.nio.file.Files.readAllLines(log).stream().filter(l -> l.contains("from the inflight region")).count();
        System.out.printf("  the restarted targets resubmitted from the inflight area %d times%n", resubmits);
        if (inflight && RESTARTS >= 20) { // a kill finds a request popped and not done only now and then
            assertTrue(resubmits > 0, "with INFLIGHT_SHMFD some restart found requests in the inflight area: " + log);
        } else {
            assertEquals(0, resubmits, "without INFLIGHT_SHMFD nothing is resubmitted from an inflight area");
        }
    }

    /** The same against qemu-storage-daemon (libvhost-user), killed and started again on the same socket. */
    @org.junit.jupiter.api.Nested
    @io.jvirtio.core.testing.RequiresQemuStorageDaemon
    class QemuStorageDaemon {
        @Test
        void sigkilledAndRestartedLosesNoIo() throws Exception {
            qemuStorageDaemonRestarts();
        }
    }

    void qemuStorageDaemonRestarts() throws Exception {
        Path sock = dir.resolve("q.sock");
        Path image = image();
        run(sock, image, QSD_RESTARTS, VhostUserOptions.defaults(), () -> {
            io.jvirtio.testkit.QemuStorageDaemon q = io.jvirtio.testkit.QemuStorageDaemon.file(image).numQueues(THREADS).socket(sock).start();
            return () -> {
                ProcessHandle h = ProcessHandle.of(q.pid()).orElseThrow();
                h.destroyForcibly();
                h.onExit().get(10, TimeUnit.SECONDS);
                q.close();
            };
        });
    }

    private Path image() throws java.io.IOException {
        Path image = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(DISK);
        }
        return image;
    }

    private void run(Path sock, Path image, int restarts, VhostUserOptions vhostUser, Launcher launcher) throws Exception {
        Target target = launcher.start();
        ReconnectPolicy policy = new ReconnectPolicy(30, 1, 0);
        VirtioBlkDevice blk = VirtioBlkDevice.connectVhostUser("rc0", sock,
                VirtioBlkOptions.defaults().withRequestQueues(THREADS).withReconnect(policy), vhostUser);
        AtomicInteger reconnects = new AtomicInteger();
        AtomicLong longestStall = new AtomicLong();
        ConcurrentLinkedQueue<String> givenUp = new ConcurrentLinkedQueue<>();
        blk.device().addLinkListener(new LinkListener() {
            @Override
            public void reconnected(String device, long stallNanos) {
                reconnects.incrementAndGet();
                longestStall.accumulateAndGet(stallNanos, Math::max);
            }

            @Override
            public void givenUp(String device, String reason) {
                givenUp.add(reason);
            }
        });
        AtomicBoolean stop = new AtomicBoolean();
        Worker[] workers = new Worker[THREADS];
        Thread[] threads = new Thread[THREADS];
        for (int t = 0; t < THREADS; t++) {
            workers[t] = new Worker(blk, t, stop);
            threads[t] = Thread.ofPlatform().name("rc-io-" + t).start(workers[t]);
        }
        long ioBefore = 0;
        try {
            for (int r = 0; r < restarts; r++) {
                waitForProgress(workers, ioBefore, 20_000, "before restart " + r);
                target.kill();
                target = launcher.start();
                ioBefore = total(workers);
                assertTrue(givenUp.isEmpty(), givenUp::toString);
            }
            waitForProgress(workers, ioBefore, 20_000, "after the last restart");
        } finally {
            stop.set(true);
            for (Thread t : threads) {
                t.join(30_000);
            }
        }
        long done = total(workers);
        System.out.printf("reconnect to %s: %d restarts (SIGKILL + new process), %d reconnects, %d verified I/Os, longest stall %d ms%n",
                sock.getFileName(), restarts, reconnects.get(), done, TimeUnit.NANOSECONDS.toMillis(longestStall.get()));
        for (Worker w : workers) {
            assertEquals(null, w.failure, w.failure);
            assertEquals(0, w.errors.get(), "I/Os that failed");
            assertEquals(0, w.miscompares.get(), "read-backs that differed");
            assertEquals(0, w.duplicates.get(), "completions of an I/O already completed");
            assertTrue(!threads[w.index].isAlive(), "worker " + w.index + " drained its I/O");
        }
        assertEquals(restarts, reconnects.get(), "one reconnect per restart");
        assertTrue(givenUp.isEmpty(), givenUp::toString);
        blk.close();
        target.kill();
        // the file holds the last write of every block each slot wrote
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

    private static void waitForProgress(Worker[] workers, long since, long millis, String when) throws InterruptedException {
        long deadline = System.currentTimeMillis() + millis;
        while (total(workers) < since + 200) {
            for (Worker w : workers) {
                assertEquals(null, w.failure, w.failure);
            }
            assertTrue(System.currentTimeMillis() < deadline, "no I/O progress within " + millis + " ms " + when + " (done "
                    + total(workers) + ")");
            Thread.sleep(5);
        }
    }

    private static long total(Worker[] workers) {
        long n = 0;
        for (Worker w : workers) {
            n += w.verified.get();
        }
        return n;
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
        final VirtioBlkDevice blk;
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
        private VirtioBlkChannel ch;
        private int busy;

        Worker(VirtioBlkDevice blk, int index, AtomicBoolean stop) {
            this.blk = blk;
            this.index = index;
            this.stop = stop;
        }

        long offset(int slot, int k) {
            return ((long) index * DEPTH * OFFSETS_PER_SLOT + (long) k * DEPTH + slot) * IO;
        }

        @Override
        public void run() {
            try {
                ch = blk.openChannel();
                wbuf = new MemorySegment[DEPTH];
                rbuf = new MemorySegment[DEPTH];
                for (int s = 0; s < DEPTH; s++) {
                    wbuf[s] = blk.allocateBuffer(IO, IO);
                    rbuf[s] = blk.allocateBuffer(IO, IO);
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
}
