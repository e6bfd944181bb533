package io.jvirtio.conformance.completion;

import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.scsi.ScsiLun;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import io.jvirtio.backend.scsi.VirtioScsiModel;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.bdev.CompletionMode;
import io.jvirtio.bdev.IoCallback;
import io.jvirtio.bdev.IoChannel;
import io.jvirtio.blk.VirtioBlkChannel;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.scsi.VirtioScsiChannel;
import io.jvirtio.scsi.VirtioScsiController;
import io.jvirtio.scsi.VirtioScsiDisk;
import io.jvirtio.scsi.VirtioScsiOptions;
import io.jvirtio.spec.VirtioException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Interrupt and adaptive completion modes against the Java target: a channel that sleeps on its queue's
 * call eventfd gets every completion (data verified), never loses a wake-up over many short waits, and
 * costs next to no CPU while idle.
 */
class CompletionModeTest {
    private static final int BLOCK = 4096;
    private static final long DISK_BYTES = 8L << 20;
    /** The waiter never sleeps longer than 100 ms at once; a wait that long with the I/O done meanwhile is a lost wake-up. */
    private static final long LOST_WAKEUP_NANOS = TimeUnit.MILLISECONDS.toNanos(90);

    @TempDir
    Path dir;

    @Test
    void interruptModeSleepsOnTheCallEventfdAndGetsEveryCompletion() {
        try (Blk blk = Blk.start(dir); VirtioBlkChannel ch = blk.dev.openChannel()) {
            ch.setCompletionMode(CompletionMode.interrupt());
            assertEquals(CompletionMode.interrupt(), ch.completionMode());
            assertTrue(ch.completionFd() >= 0, "a vhost-user queue has its call eventfd");
            MemorySegment buf = blk.dev.allocateBuffer(BLOCK, BLOCK);
            MemorySegment back = blk.dev.allocateBuffer(BLOCK, BLOCK);
            int n = 2_000;
            int lost = 0;
            for (int i = 0; i < n; i++) {
                long offset = (long) (i % (DISK_BYTES / BLOCK)) * BLOCK;
                buf.fill((byte) i);
                Outcome w = new Outcome();
                assertTrue(ch.write(buf, offset, w, null));
                lost += waitFor(ch, w);
                Outcome r = new Outcome();
                assertTrue(ch.read(back, offset, r, null));
                lost += waitFor(ch, r);
                assertEquals(-1, buf.mismatch(back), "block " + offset + " read back as written");
                assertEquals(-1, buf.mismatch(blk.store.contents().asSlice(offset, BLOCK)), "the target's RAM holds it");
            }
            assertEquals(0, lost, "waits that slept out their full slice although the I/O had completed");
            assertTrue(ch.completionWaiter().sleeps() > 0, "interrupt mode slept on the eventfd");
            assertEquals(0, ch.completionWaiter().timeoutsWithWork(), "sleeps that timed out with completions in the ring");
        }
    }

    @Test
    void manyShortWaitsLoseNoWakeUpOnBlkAndScsi() throws Exception {
        try (Blk blk = Blk.start(dir); VirtioBlkChannel ch = blk.dev.openChannel()) {
            stress(ch, blk.dev.allocateBuffer(BLOCK, BLOCK), CompletionMode.interrupt());
            assertTrue(ch.completionWaiter().sleeps() > 0);
            assertEquals(0, ch.completionWaiter().timeoutsWithWork(), "lost wake-ups (blk)");
        }
        try (Scsi scsi = Scsi.start(dir); VirtioScsiChannel ch = scsi.disk.openChannel()) {
            stress(ch, scsi.disk.allocateBuffer(BLOCK, BLOCK), CompletionMode.interrupt());
            assertTrue(ch.completionWaiter().sleeps() > 0);
            assertEquals(0, ch.completionWaiter().timeoutsWithWork(), "lost wake-ups (scsi)");
        }
    }

    @Test
    void anIdleChannelInInterruptModeCostsAlmostNoCpuWhileAPollingOneSpendsTheCore() {
        try (Blk blk = Blk.start(dir); VirtioBlkChannel ch = blk.dev.openChannel()) {
            ThreadMXBean mx = ManagementFactory.getThreadMXBean();
            long wall = TimeUnit.MILLISECONDS.toNanos(400);
            ch.setCompletionMode(CompletionMode.interrupt());
            long cpu0 = mx.getCurrentThreadCpuTime();
            assertEquals(0, ch.waitForCompletions(wall));
            long interruptCpu = mx.getCurrentThreadCpuTime() - cpu0;
            ch.setCompletionMode(CompletionMode.polling());
            cpu0 = mx.getCurrentThreadCpuTime();
            assertEquals(0, ch.waitForCompletions(wall));
            long pollingCpu = mx.getCurrentThreadCpuTime() - cpu0;
            // Loose on purpose (a loaded machine steals time from the spinner too): sleeping is an order below.
            assertTrue(interruptCpu < wall / 10, "interrupt mode idle: " + interruptCpu / 1000 + " us CPU in 400 ms");
            assertTrue(pollingCpu > 4 * interruptCpu, "polling idle: " + pollingCpu / 1000 + " us CPU, interrupt "
                    + interruptCpu / 1000 + " us");
        }
    }

    @Test
    void adaptiveModePollsRightAfterACompletionAndSleepsWhenIdle() {
        try (Blk blk = Blk.start(dir); VirtioBlkChannel ch = blk.dev.openChannel()) {
            ch.setCompletionMode(CompletionMode.adaptive(Duration.ofMillis(20)));
            MemorySegment buf = blk.dev.allocateBuffer(BLOCK, BLOCK);
            stress(ch, buf, CompletionMode.adaptive(Duration.ofMillis(20)));
            long sleepsBusy = ch.completionWaiter().sleeps();
            ThreadMXBean mx = ManagementFactory.getThreadMXBean();
            long cpu0 = mx.getCurrentThreadCpuTime();
            assertEquals(0, ch.waitForCompletions(TimeUnit.MILLISECONDS.toNanos(400)));
            long cpu = mx.getCurrentThreadCpuTime() - cpu0;
            assertTrue(cpu < TimeUnit.MILLISECONDS.toNanos(20) + TimeUnit.MILLISECONDS.toNanos(400) / 10,
                    "adaptive: 20 ms of polling, then asleep: " + cpu / 1000 + " us CPU in 400 ms");
            assertTrue(ch.completionWaiter().sleeps() > sleepsBusy, "idle: it went to sleep");
            assertEquals(0, ch.completionWaiter().timeoutsWithWork());
        }
    }

    /** 3,000 QD1 reads, each waited for with a short timeout, in the given mode; counts lost wake-ups. */
    private static void stress(IoChannel ch, MemorySegment buf, CompletionMode mode) {
        ch.setCompletionMode(mode);
        int lost = 0;
        for (int i = 0; i < 3_000; i++) {
            Outcome o = new Outcome();
            assertTrue(ch.read(buf, (long) (i % 64) * BLOCK, o, null));
            lost += waitFor(ch, o);
            assertNull(o.error);
        }
        if (mode.kind() == CompletionMode.Kind.INTERRUPT) {
            // a thread that sleeps leaves the CPU to the target; one that spins may starve it on a loaded
            // machine, so only here is a long wait telling (the waiter's own count is asserted by the callers)
            assertEquals(0, lost, "lost wake-ups in " + mode);
        }
    }

    /** @return 1 when a wait slept for a whole slice although the I/O was done (a lost wake-up) */
    private static int waitFor(IoChannel ch, Outcome o) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        int lost = 0;
        while (!o.done) {
            long t0 = System.nanoTime();
            int n = ch.waitForCompletions(TimeUnit.SECONDS.toNanos(5));
            if (n > 0 && System.nanoTime() - t0 > LOST_WAKEUP_NANOS) {
                lost++;
            }
            assertTrue(System.nanoTime() < deadline, "the I/O never completed");
        }
        assertNull(o.error);
        return lost;
    }

    private static final class Outcome implements IoCallback {
        boolean done;
        VirtioException error;

        @Override
        public void onComplete(Object context, VirtioException error) {
            this.error = error;
            done = true;
        }
    }

    private record Blk(VhostUserTarget target, RamBlockStore store, VirtioBlkDevice dev) implements AutoCloseable {
        static Blk start(Path dir) {
            RamBlockStore store = new RamBlockStore(DISK_BYTES, false);
            VhostUserTarget t = VhostUserTarget.builder().name("cm-blk").socket(dir.resolve("blk.sock"))
                    .blk(store, BlkModelOptions.builder().blockSize(512).numQueues(1).build()).closeOnExit(store).start();
            VirtioBlkDevice dev = VirtioBlkDevice.connectVhostUser("CmBlk", t.socketPath(),
                    VirtioBlkOptions.defaults().withQueueSize(64).withHugePages(HugePagePolicy.NEVER).withMemoryBytes(16L << 20));
            return new Blk(t, store, dev);
        }

        @Override
        public void close() {
            dev.close();
            target.close();
        }
    }

    private record Scsi(VhostUserTarget target, VirtioScsiController ctrl, VirtioScsiDisk disk) implements AutoCloseable {
        static Scsi start(Path dir) {
            RamBlockStore lun = new RamBlockStore(DISK_BYTES, false);
            VirtioScsiModel model = new VirtioScsiModel(ScsiModelOptions.builder().name("cm-scsi").requestQueues(1).build());
            model.addLun(0, 0, ScsiLun.builder(lun).blockSize(512).build());
            VhostUserTarget t = VhostUserTarget.builder().name("cm-scsi").socket(dir.resolve("scsi.sock")).model(model)
                    .closeOnExit(lun).start();
            VirtioScsiController c = VirtioScsiController.connectVhostUser("CmScsi", t.socketPath(),
                    VirtioScsiOptions.defaults().withQueueSize(64).withHugePages(HugePagePolicy.NEVER).withMemoryBytes(16L << 20));
            return new Scsi(t, c, c.bdevs().getFirst());
        }

        @Override
        public void close() {
            ctrl.close();
            target.close();
        }
    }
}
