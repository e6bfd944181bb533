package io.jvirtio.scsi;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.scsi.ScsiLun;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import io.jvirtio.backend.scsi.VirtioScsiModel;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.core.LinkListener;
import io.jvirtio.core.ReconnectPolicy;
import io.jvirtio.spec.VirtioException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static io.jvirtio.scsi.ScsiTestSupport.assertSameBytes;
import static io.jvirtio.scsi.ScsiTestSupport.await;
import static io.jvirtio.scsi.ScsiTestSupport.fill;
import static io.jvirtio.scsi.ScsiTestSupport.testOptions;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A controller with a reconnect policy whose target (in this JVM) stops and another starts on the
 * same socket: the control, event and scan queues are handed over with the request queues, the
 * event queue's buffers are posted to the new target (hot-plug events keep coming), and the rescan
 * after the reconnect follows the new target's LUNs: one gone, one new. No event poller runs: the
 * hand-over and the rescan do not depend on one.
 */
class ScsiReconnectTest {
    private static final long LUN_BYTES = 8L << 20;

    @TempDir
    Path dir;
    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    private VhostUserTarget target(Path sock, VirtioScsiModel model) {
        VhostUserTarget t = VhostUserTarget.builder().name("tgt").socket(sock).model(model).start();
        open.add(t);
        return t;
    }

    private static VirtioScsiModel model() {
        return new VirtioScsiModel(ScsiModelOptions.builder().name("tgt").requestQueues(3).build());
    }

    @Test
    void theControllerFollowsARestartedTarget() throws Exception {
        Path sock = dir.resolve("rc.sock");
        RamBlockStore s0 = new RamBlockStore(LUN_BYTES, false);
        RamBlockStore s1 = new RamBlockStore(LUN_BYTES, false);
        RamBlockStore s2 = new RamBlockStore(LUN_BYTES, false);
        RamBlockStore s3 = new RamBlockStore(LUN_BYTES, false);
        open.addAll(List.of(s0, s1, s2, s3));
        VirtioScsiModel first = model();
        first.addLun(0, 0, ScsiLun.builder(s0).build());
        first.addLun(1, 0, ScsiLun.builder(s1).build());
        VhostUserTarget a = target(sock, first);
        VirtioScsiController ctrl = VirtioScsiController.connectVhostUser("R", sock,
                testOptions().withRequestQueues(1).withReconnect(new ReconnectPolicy(10, 1, 0)));
        open.add(ctrl);
        assertTrue(ctrl.hasDedicatedScanQueue());
        List<String> lunEvents = new CopyOnWriteArrayList<>();
        ctrl.addListener(new BdevListener() {
            @Override
            public void bdevAdded(Bdev bdev) {
                lunEvents.add("added " + bdev.name());
            }

            @Override
            public void bdevRemoved(Bdev bdev) {
                lunEvents.add("removed " + bdev.name());
            }
        });
        AtomicInteger reconnects = new AtomicInteger();
        ctrl.device().addLinkListener(new LinkListener() {
            @Override
            public void reconnected(String device, long stallNanos) {
                reconnects.incrementAndGet();
            }
        });
        VirtioScsiDisk t0 = ctrl.disk(0, 0).orElseThrow();
        VirtioScsiChannel ch = t0.openChannel();
        SyncIo io = new SyncIo(ch);
        MemorySegment w = t0.allocateBuffer(65536, 4096);
        MemorySegment r = t0.allocateBuffer(65536, 4096);
        fill(w, 1);
        io.write(w, 0);
        await("all 16 event buffers posted", Duration.ofSeconds(5), () -> { }, () -> first.postedEventBuffers() == 16);

        a.close();
        await("the hang-up", Duration.ofSeconds(5), () -> { }, () -> ctrl.device().transportLost() != null);
        // a reset while the link is down is refused as busy once the control queue is being handed over
        Thread.sleep(100);
        Outcome reset = new Outcome();
        boolean resetAccepted = ch.reset(reset, null);
        System.out.println("a reset while the link is down was " + (resetAccepted ? "accepted (it waits in the ring)" : "refused as busy"));

        VirtioScsiModel second = model();
        second.addLun(0, 0, ScsiLun.builder(s0).build());
        second.addLun(2, 0, ScsiLun.builder(s2).build());
        target(sock, second);
        await("the reconnect", Duration.ofSeconds(10), ch::poll, () -> reconnects.get() == 1);
        while (!resetAccepted) {
            ch.poll();
            resetAccepted = ch.reset(reset, null);
        }
        await("the reset", Duration.ofSeconds(5), ch::poll, () -> reset.done);
        assertEquals(null, reset.error, "the reset asked across the restart");
        await("the rescan after the reconnect", Duration.ofSeconds(10), ch::poll,
                () -> lunEvents.containsAll(List.of("removed Rt1", "added Rt2")));
        assertEquals(List.of("Rt0", "Rt2"), ctrl.bdevs().stream().map(Bdev::name).toList());
        assertSame(t0, ctrl.disk(0, 0).orElseThrow(), "the LUN that stayed keeps its bdev");
        await("the event buffers posted to the new target", Duration.ofSeconds(5), ch::poll, () -> second.postedEventBuffers() == 16);

        io.read(r, 0);
        assertSameBytes(w, r, "what was written before the restart");
        fill(w, 2);
        io.write(w, 65536);
        io.read(r, 65536);
        assertSameBytes(w, r, "written after the restart");

        // hot-plug events come through the event queue of the new target
        second.addLun(3, 0, ScsiLun.builder(s3).build());
        await("the hot-added LUN", Duration.ofSeconds(10), ctrl::pollEvents, () -> lunEvents.contains("added Rt3"));
        assertEquals(1, reconnects.get());
        // a removal is told once the LUN's channels drained, after the scan that added Rt2
        assertEquals(java.util.Set.of("removed Rt1", "added Rt2"), java.util.Set.copyOf(lunEvents.subList(0, 2)));
        assertEquals(List.of("added Rt3"), lunEvents.subList(2, lunEvents.size()));
        ch.close();
        ctrl.close(); // before the target goes, or it would reconnect again
    }

    @Test
    void closingWhileTheLinkIsDownFailsWaitingIoAndDoesNotWait() throws Exception {
        Path sock = dir.resolve("cd.sock");
        RamBlockStore s0 = new RamBlockStore(LUN_BYTES, false);
        open.add(s0);
        VirtioScsiModel m = model();
        m.addLun(0, 0, ScsiLun.builder(s0).build());
        VhostUserTarget a = target(sock, m);
        VirtioScsiController ctrl = VirtioScsiController.connectVhostUser("C", sock,
                testOptions().withReconnect(new ReconnectPolicy(30, 1, 0)));
        VirtioScsiDisk d = ctrl.disk(0, 0).orElseThrow();
        VirtioScsiChannel ch = d.openChannel();
        a.close();
        await("the hang-up", Duration.ofSeconds(5), () -> { }, () -> ctrl.device().transportLost() != null);
        Outcome waiting = new Outcome();
        assertTrue(ch.read(d.allocateBuffer(4096, 4096), 0, waiting, null), "I/O is accepted while a reconnect may bring the target back");
        ch.poll();
        assertTrue(!waiting.done, "it waits");
        long start = System.nanoTime();
        ctrl.close();
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertTrue(millis < 2000, "close while the link is down took " + millis + " ms");
        await("the waiting read", Duration.ofSeconds(5), ch::poll, () -> waiting.done);
        assertNotNull(waiting.error);
        assertEquals(io.jvirtio.bdev.BdevIoException.Reason.CLOSED,
                io.jvirtio.bdev.BdevIoException.reasonOf(waiting.error, io.jvirtio.bdev.BdevIoException.Reason.QUEUE_BROKEN));
        ch.close();
        System.out.println("closed " + millis + " ms while the link was down; the waiting read: " + waiting.error.getMessage());
    }

    /** One asynchronous outcome. */
    static final class Outcome implements io.jvirtio.bdev.IoCallback {
        volatile boolean done;
        volatile VirtioException error;

        @Override
        public void onComplete(Object context, VirtioException e) {
            error = e;
            done = true;
        }
    }

    @Test
    void withoutAPolicyNothingIsHandedOverAndIoFails() throws Exception {
        Path sock = dir.resolve("np.sock");
        RamBlockStore s0 = new RamBlockStore(LUN_BYTES, false);
        open.add(s0);
        VirtioScsiModel m = model();
        m.addLun(0, 0, ScsiLun.builder(s0).build());
        VhostUserTarget a = target(sock, m);
        VirtioScsiController ctrl = VirtioScsiController.connectVhostUser("N", sock, testOptions());
        open.add(ctrl);
        VirtioScsiChannel ch = ctrl.disk(0, 0).orElseThrow().openChannel();
        a.close();
        await("the hang-up", Duration.ofSeconds(5), () -> { }, () -> ctrl.device().transportLost() != null);
        assertTrue(ctrl.device().refusesIo());
        io.jvirtio.bdev.BdevIoException e = org.junit.jupiter.api.Assertions.assertThrows(io.jvirtio.bdev.BdevIoException.class,
                () -> ch.read(ctrl.memory().allocate(4096, 4096), 0, (c, x) -> { }, null));
        assertNotNull(e.getMessage());
        assertTrue(e.getMessage().contains("disconnected"), e.getMessage());
        ch.close();
    }
}
