package io.jvirtio.conformance.reconnect;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.bdev.IoCallback;
import io.jvirtio.bdev.IoChannel;
import io.jvirtio.core.ReconnectPolicy;
import io.jvirtio.scsi.BdevListener;
import io.jvirtio.scsi.VirtioScsiController;
import io.jvirtio.scsi.VirtioScsiDisk;
import io.jvirtio.scsi.VirtioScsiOptions;
import io.jvirtio.spec.VirtioException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A scsi target restarted with fewer targets: the Java target serves targets 0 and 1 (a file LUN
 * each), is SIGKILLed and comes back with target 0 only (the same virtio_scsi_config, so the
 * reconnect is accepted). The rescan after the reconnect removes target 1's bdev through the
 * normal removal path (its I/O fails, new I/O is refused naming why, listeners hear of it once its
 * channel drained) while target 0 keeps serving the verify workload without an error.
 */
class ScsiReconnectLunGoneTest {
    private static final int T1_DEPTH = 8;

    @TempDir
    Path dir;

    @Test
    void aTargetMissingAfterTheRestartIsRemovedAndTheOtherKeepsWorking() throws Exception {
        Path sock = dir.resolve("g.sock");
        Path log = dir.resolve("target.log");
        String files = "file:" + dir.resolve("lun%t.img") + ",size=64M,queues=4";
        TargetProcess target = TargetProcess.start(sock, log, "--scsi", files + ",targets=2");
        VirtioScsiController ctrl = VirtioScsiController.connectVhostUser("gone0", sock, VirtioScsiOptions.defaults()
                .withRequestQueues(VerifyWorkload.THREADS + 1).withEventThread().withReconnect(new ReconnectPolicy(30, 1, 0)));
        VerifyWorkload load = null;
        Thread t1Thread = null;
        try {
            assertEquals(List.of("gone0t0", "gone0t1"), ctrl.bdevs().stream().map(Bdev::name).toList());
            VirtioScsiDisk t0 = ctrl.disk(0, 0).orElseThrow();
            VirtioScsiDisk t1 = ctrl.disk(1, 0).orElseThrow();
            CompletableFuture<Long> t1Removed = new CompletableFuture<>();
            ConcurrentLinkedQueue<String> lunEvents = new ConcurrentLinkedQueue<>();
            ctrl.addListener(new BdevListener() {
                @Override
                public void bdevAdded(Bdev bdev) {
                    lunEvents.add("added " + bdev.name());
                }

                @Override
                public void bdevRemoved(Bdev bdev) {
                    lunEvents.add("removed " + bdev.name());
                    if (bdev == t1) {
                        t1Removed.complete(System.nanoTime());
                    }
                }
            });
            load = new VerifyWorkload(t0, ctrl.device(), "gone-io-");
            T1Writer writer = new T1Writer(t1);
            t1Thread = Thread.ofPlatform().name("gone-t1").start(writer);
            load.waitForProgress(0, 20_000, "before the restart");
            while (writer.ok.get() < 100) {
                assertEquals(null, writer.failure, writer.failure);
                Thread.sleep(5);
            }
            long okBefore = writer.ok.get();
            target.kill();
            target = TargetProcess.start(sock, log, "--scsi", files + ",targets=1");
            long restarted = System.nanoTime();
            long removedAt = t1Removed.get(20, TimeUnit.SECONDS);
            long sinceRemoval = load.total();
            load.waitForProgress(sinceRemoval, 20_000, "after target 1 was removed");
            t1Thread.join(10_000);
            assertTrue(!t1Thread.isAlive(), "the target 1 writer drained and stopped");
            load.stop();
            System.out.printf("scsi restart with target 1 gone: %s removed %d ms after the new target started (listeners: %s); target 1:"
                            + " %d writes before the kill, %d failed after it, then refused: %s; target 0: %d verified I/Os, %d reconnect(s)%n",
                    t1.name(), TimeUnit.NANOSECONDS.toMillis(removedAt - restarted), lunEvents, okBefore, writer.failed.get(),
                    writer.refusal, load.total(), load.reconnects.get());
            load.assertClean();
            assertEquals(1, load.reconnects.get());
            assertTrue(load.givenUp.isEmpty(), load.givenUp::toString);
            assertEquals(null, writer.failure, writer.failure);
            assertEquals(List.of("removed gone0t1"), List.copyOf(lunEvents));
            assertEquals(List.of(t0), ctrl.bdevs());
            assertTrue(writer.refusal != null && writer.refusal.reason() == Reason.CLOSED
                    && writer.refusal.getMessage().contains("the LUN was removed (target 1 no longer exists"), String.valueOf(writer.refusal));
            assertTrue(t1.isRemoved(), "target 1's bdev is removed");
            assertTrue(!t0.isRemoved());
        } finally {
            if (load != null) {
                load.stop();
            }
            ctrl.close();
            target.kill();
        }
        load.assertFileHoldsLastWrites(dir.resolve("lun0.img"));
    }

    /** Keeps T1_DEPTH writes in flight on target 1 until a submission is refused, then drains and closes its channel. */
    private static final class T1Writer implements Runnable, IoCallback {
        final Bdev bdev;
        final AtomicLong ok = new AtomicLong();
        final AtomicLong failed = new AtomicLong();
        volatile BdevIoException refusal;
        volatile String failure;
        private int inFlight;

        T1Writer(Bdev bdev) {
            this.bdev = bdev;
        }

        @Override
        public void run() {
            try {
                IoChannel ch = bdev.openChannel();
                MemorySegment buf = bdev.allocateBuffer(4096L * T1_DEPTH, 4096);
                long n = 0;
                while (refusal == null || inFlight > 0) {
                    while (refusal == null && inFlight < T1_DEPTH) {
                        try {
                            long slot = n++ % T1_DEPTH;
                            if (!ch.write(buf.asSlice(slot * 4096, 4096), slot * 4096, this, null)) {
                                break;
                            }
                            inFlight++;
                        } catch (BdevIoException e) {
                            refusal = e;
                        }
                    }
                    ch.poll();
                }
                ch.close();
            } catch (RuntimeException | Error e) {
                failure = e.toString();
                throw e;
            }
        }

        @Override
        public void onComplete(Object context, VirtioException error) {
            inFlight--;
            if (error == null) {
                ok.incrementAndGet();
            } else {
                failed.incrementAndGet();
            }
        }
    }
}
