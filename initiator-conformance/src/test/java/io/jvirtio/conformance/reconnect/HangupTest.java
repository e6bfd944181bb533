package io.jvirtio.conformance.reconnect;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.IoCallback;
import io.jvirtio.bdev.IoChannel;
import io.jvirtio.blk.VirtioBlkChannel;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.scsi.VirtioScsiController;
import io.jvirtio.scsi.VirtioScsiOptions;
import io.jvirtio.spec.VirtioException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A target that dies (SIGKILL of its process) without a reconnect policy: the front-end notices the
 * hang-up at once, says so, and every I/O in flight or queued fails with TRANSPORT_LOST straight
 * away, from several queues and threads; nothing waits for a timeout.
 */
class HangupTest {
    private static final int QUEUES = 2;
    private static final int DEPTH = 32;
    private static final long IO = 4096;
    /** A correctness bound (the hang-up is seen within ~100 ms), not a benchmark. */
    private static final long FAIL_ALL_BOUND_MILLIS = 1000;

    @TempDir
    Path dir;

    @Test
    void killedBlkTargetFailsEveryIoAtOnceWithTheReason() throws Exception {
        Path sock = dir.resolve("t.sock");
        try (TargetProcess target = TargetProcess.start(sock, dir.resolve("target.log"), "--blk", "ram:64M,queues=" + QUEUES)) {
            VirtioBlkDevice blk = VirtioBlkDevice.connectVhostUser("hup0", sock, VirtioBlkOptions.defaults().withRequestQueues(QUEUES));
            killUnderIo(target, blk, blk);
        }
    }

    @Test
    void killedScsiTargetFailsEveryIoAtOnceWithTheReason() throws Exception {
        Path sock = dir.resolve("s.sock");
        try (TargetProcess target = TargetProcess.start(sock, dir.resolve("target.log"), "--scsi", "ram:64M,queues=" + (QUEUES + 2))) {
            VirtioScsiController ctrl = VirtioScsiController.connectVhostUser("hups", sock,
                    VirtioScsiOptions.defaults().withRequestQueues(QUEUES));
            killUnderIo(target, ctrl.bdevs().getFirst(), ctrl);
        }
    }

    /** Keeps QD 32 of random 4 KiB reads and writes on {@code QUEUES} threads, kills the target, checks how it ends. */
    private void killUnderIo(TargetProcess target, Bdev bdev, AutoCloseable owner) throws Exception {
        Path sock = target.socket();
        CountDownLatch running = new CountDownLatch(QUEUES);
        ConcurrentLinkedQueue<VirtioException> errors = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<Throwable> refusals = new ConcurrentLinkedQueue<>();
        AtomicLong lastFailureNanos = new AtomicLong();
        AtomicLong completedOk = new AtomicLong();
        Thread[] workers = new Thread[QUEUES];
        for (int w = 0; w < QUEUES; w++) {
            workers[w] = Thread.ofPlatform().name("hup-io-" + w).start(() -> {
                IoChannel ch = bdev.openChannel();
                MemorySegment buf = bdev.allocateBuffer(IO * DEPTH, IO);
                long[] inFlight = {0};
                boolean failedOnce = false;
                running.countDown();
                long units = bdev.blockCount() * bdev.blockSize() / IO;
                IoCallback cb = (ctx, err) -> done(err, inFlight, errors, lastFailureNanos, completedOk);
                while (true) {
                    while (!failedOnce && inFlight[0] < DEPTH) {
                        long off = ThreadLocalRandom.current().nextLong(units) * IO;
                        MemorySegment slice = buf.asSlice((inFlight[0] % DEPTH) * IO, IO);
                        try {
                            boolean ok = ThreadLocalRandom.current().nextBoolean() ? ch.write(slice, off, cb, null) : ch.read(slice, off, cb, null);
                            if (!ok) {
                                break;
                            }
                            inFlight[0]++;
                        } catch (BdevIoException e) {
                            refusals.add(e);
                            failedOnce = true;
                        }
                    }
                    ch.poll();
                    if (!errors.isEmpty()) {
                        failedOnce = true;
                    }
                    if (failedOnce && inFlight[0] == 0) {
                        break;
                    }
                }
                // a submission after the loss is refused at once, with the reason
                try {
                    ch.read(buf.asSlice(0, IO), 0, (c, e) -> { }, null);
                    refusals.add(new AssertionError("read after the hang-up was accepted"));
                } catch (BdevIoException e) {
                    refusals.add(e);
                }
                ch.close();
            });
        }
        assertTrue(running.await(10, TimeUnit.SECONDS));
        Thread.sleep(500);
        long before = completedOk.get();
        long killNanos = System.nanoTime();
        target.kill();
        for (Thread t : workers) {
            t.join(10_000);
            assertTrue(!t.isAlive(), "I/O thread " + t.getName() + " still waits for I/O 10 s after the kill: hung I/O");
        }
        long failMillis = TimeUnit.NANOSECONDS.toMillis(lastFailureNanos.get() - killNanos);
        System.out.printf("hang-up of %s: %d I/Os done before the kill, %d failed after it, the last %d ms after SIGKILL%n",
                bdev.name(), before, errors.size(), failMillis);
        assertTrue(before > 100, "I/O ran before the kill: " + before);
        assertTrue(!errors.isEmpty(), "I/Os in flight at the kill failed");
        for (VirtioException e : errors) {
            assertEquals(Reason.TRANSPORT_LOST, BdevIoException.reasonOf(e, Reason.QUEUE_BROKEN), e.getMessage());
            assertTrue(e.getMessage().contains("vhost-user back-end on " + sock + " disconnected"), e.getMessage());
            assertTrue(e.getMessage().startsWith("bdev " + bdev.name() + ": "), e.getMessage());
        }
        assertTrue(failMillis < FAIL_ALL_BOUND_MILLIS, "the last I/O failed " + failMillis + " ms after the kill");
        assertEquals(QUEUES, refusals.size(), "one refused submission per thread: " + refusals);
        for (Throwable r : refusals) {
            BdevIoException b = assertInstanceOf(r);
            assertEquals(Reason.TRANSPORT_LOST, b.reason(), b.getMessage());
            assertTrue(b.getMessage().contains("vhost-user back-end on " + sock + " disconnected"), b.getMessage());
        }
        long closeStart = System.nanoTime();
        owner.close();
        long closeMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - closeStart);
        assertTrue(closeMillis < FAIL_ALL_BOUND_MILLIS, "close after the hang-up took " + closeMillis + " ms");
    }

    @Test
    void hangUpIsSeenWithoutAnyIoRunning() throws Exception {
        Path sock = dir.resolve("idle.sock");
        try (TargetProcess target = TargetProcess.start(sock, dir.resolve("target.log"), "--blk", "ram:16M")) {
            try (VirtioBlkDevice blk = VirtioBlkDevice.connectVhostUser("idle0", sock, VirtioBlkOptions.defaults())) {
                assertEquals(null, blk.device().transportLost());
                long killNanos = System.nanoTime();
                target.kill();
                while (blk.device().transportLost() == null && System.nanoTime() - killNanos < TimeUnit.SECONDS.toNanos(5)) {
                    Thread.sleep(1);
                }
                long seenMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killNanos);
                String reason = blk.device().transportLost();
                assertNotNull(reason, "hang-up not seen within 5 s of the kill");
                System.out.printf("idle hang-up seen %d ms after SIGKILL: %s%n", seenMillis, reason);
                assertTrue(reason.equals("vhost-user back-end on " + sock + " disconnected")
                        || reason.equals("vhost-user back-end on " + sock + " disconnected (connection reset)"), reason);
                assertTrue(seenMillis < FAIL_ALL_BOUND_MILLIS, "hang-up seen " + seenMillis + " ms after the kill");
                VirtioBlkChannel ch = blk.openChannel();
                MemorySegment buf = blk.allocateBuffer(IO, IO);
                BdevIoException e = assertThrows(BdevIoException.class, () -> ch.read(buf, 0, (c, err) -> { }, null));
                assertEquals(Reason.TRANSPORT_LOST, e.reason());
                assertEquals("bdev idle0: read refused: " + reason, e.getMessage());
                ch.close();
            }
        }
    }

    private static void done(VirtioException err, long[] inFlight, ConcurrentLinkedQueue<VirtioException> errors, AtomicLong last,
                             AtomicLong ok) {
        inFlight[0]--;
        if (err != null) {
            errors.add(err);
            last.set(System.nanoTime());
        } else {
            ok.incrementAndGet();
        }
    }

    private static BdevIoException assertInstanceOf(Throwable t) {
        if (t instanceof BdevIoException b) {
            return b;
        }
        throw new AssertionError("expected a BdevIoException, got " + t, t);
    }

}
