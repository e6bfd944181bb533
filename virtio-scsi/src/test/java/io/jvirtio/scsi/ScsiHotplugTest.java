package io.jvirtio.scsi;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.backend.scsi.CommandFilter;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static io.jvirtio.scsi.ScsiTestSupport.assertSameBytes;
import static io.jvirtio.scsi.ScsiTestSupport.await;
import static io.jvirtio.scsi.ScsiTestSupport.fill;
import static io.jvirtio.scsi.ScsiTestSupport.testOptions;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Hot-add and hot-remove through the event queue, while I/O runs; missed events; rescans without events. */
class ScsiHotplugTest {
    @TempDir
    Path dir;
    private JavaScsiTarget target;
    private VirtioScsiController ctrl;
    private final List<String> added = new CopyOnWriteArrayList<>();
    private final List<String> removed = new CopyOnWriteArrayList<>();

    @AfterEach
    void tearDown() {
        if (ctrl != null) {
            ctrl.close();
        }
        if (target != null) {
            target.close();
        }
    }

    private void start(ScsiModelOptions.Builder config, VirtioScsiOptions options) {
        target = JavaScsiTarget.start(dir.resolve("scsi.sock"), config.name("tgt").build());
        target.addLun(0, 0, 4 << 20, 512);
        ctrl = VirtioScsiController.connectVhostUser("H", target.socket(), options);
        ctrl.addListener(new BdevListener() {
            @Override
            public void bdevAdded(Bdev bdev) {
                added.add(bdev.name());
            }

            @Override
            public void bdevRemoved(Bdev bdev) {
                removed.add(bdev.name());
            }
        });
    }

    /** A thread writing and checking LUN 0 of target 0 until stopped. */
    private final class Writer implements AutoCloseable {
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicLong rounds = new AtomicLong();
        final CompletableFuture<Void> done = new CompletableFuture<>();

        Writer() {
            VirtioScsiDisk d = ctrl.disk(0, 0).orElseThrow();
            Thread.ofPlatform().name("writer").start(() -> {
                try (VirtioScsiChannel ch = d.openChannel()) {
                    SyncIo io = new SyncIo(ch);
                    MemorySegment b = d.allocateBuffer(16384, 4096);
                    MemorySegment r = d.allocateBuffer(16384, 4096);
                    for (long i = 0; !stop.get(); i++) {
                        fill(b, i);
                        long off = (i % 200) * 16384;
                        io.write(b, off);
                        io.read(r, off);
                        assertSameBytes(b, r, "writer round " + i);
                        rounds.incrementAndGet();
                    }
                    done.complete(null);
                } catch (Throwable e) {
                    done.completeExceptionally(e);
                }
            });
        }

        @Override
        public void close() {
            stop.set(true);
            try {
                done.get(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new AssertionError("the writer failed", e);
            }
        }
    }

    @Test
    void hotAddWhileIoRunsMakesNewLunBdevsAppear() throws Exception {
        start(ScsiModelOptions.builder().requestQueues(3), testOptions().withRequestQueues(2));
        try (Writer w = new Writer()) {
            await("the writer", Duration.ofSeconds(5), () -> { }, () -> w.rounds.get() > 10);
            target.addLun(0, 4, 2 << 20, 4096);
            target.addLun(6, 0, 1 << 20, 512);
            await("two bdevs added", Duration.ofSeconds(10), ctrl::pollEvents, () -> added.size() == 2);
            assertEquals(List.of("Ht0l4", "Ht6"), added);
            assertEquals(List.of("Ht0", "Ht0l4", "Ht6"), ctrl.bdevs().stream().map(Bdev::name).toList());
            long before = w.rounds.get();
            for (VirtioScsiDisk d : List.of(ctrl.disk(0, 4).orElseThrow(), ctrl.disk(6, 0).orElseThrow())) {
                try (VirtioScsiChannel ch = d.openChannel()) {
                    MemorySegment b = d.allocateBuffer(8192, 4096);
                    fill(b, d.lun() + 1000);
                    new SyncIo(ch).write(b, 4096);
                    assertSameBytes(b, target.ram(d.target(), d.lun()).contents().asSlice(4096, 8192), d.name() + " on the target");
                }
            }
            await("the writer", Duration.ofSeconds(5), () -> { }, () -> w.rounds.get() > before + 10);
        }
        assertTrue(removed.isEmpty());
    }

    @Test
    void hotRemoveWhileIoRunsFailsItsInFlightIoThenRemovesTheBdev() throws Exception {
        start(ScsiModelOptions.builder().requestQueues(3), testOptions().withRequestQueues(2));
        target.addLun(0, 1, 2 << 20, 512);
        await("LUN 1", Duration.ofSeconds(10), ctrl::pollEvents, () -> added.contains("Ht0l1"));
        VirtioScsiDisk gone = ctrl.disk(0, 1).orElseThrow();
        try (Writer w = new Writer(); VirtioScsiChannel ch = gone.openChannel()) {
            target.faults().delayAll(CommandFilter.lun(0, 1), Duration.ofSeconds(3));
            List<ScsiTestSupport.Outcome> outs = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                MemorySegment b = gone.allocateBuffer(4096, 4096);
                ScsiTestSupport.Outcome o = new ScsiTestSupport.Outcome();
                outs.add(o);
                assertTrue(ch.write(b, i * 4096L, o, null));
            }
            await("the target holding the writes", Duration.ofSeconds(5), ch::poll, () -> target.model.inflightCount() >= 4);
            CompletableFuture<Void> removal = CompletableFuture.runAsync(() -> target.removeLun(0, 1));
            await("the removal", Duration.ofSeconds(10), () -> {
                ch.poll();
                ctrl.pollEvents();
            }, () -> removed.contains("Ht0l1"));
            removal.get(10, TimeUnit.SECONDS);
            for (ScsiTestSupport.Outcome o : outs) {
                assertTrue(o.done, "completed before bdevRemoved");
                assertNotNull(o.error, "in-flight I/O of a removed LUN fails");
            }
            assertTrue(gone.isRemoved());
            assertFalse(ctrl.disk(0, 1).isPresent());
            BdevIoException e = assertThrows(BdevIoException.class, () -> ch.read(gone.allocateBuffer(512, 512), 0, null, null));
            assertTrue(e.getMessage().contains("the LUN was removed (hot-unplug event"), e.getMessage());
            assertThrows(BdevIoException.class, gone::openChannel);
            long before = w.rounds.get();
            await("the writer on the other LUN", Duration.ofSeconds(5), () -> { }, () -> w.rounds.get() > before + 10);
        }
        assertEquals(List.of("Ht0l1"), removed);
    }

    @Test
    void missedEventsTriggerAFullRescan() {
        start(ScsiModelOptions.builder().maxTarget(31), testOptions());
        // 20 hot-adds on 20 targets before the driver polls: 16 event buffers, 4 events missed
        for (int t = 1; t <= 20; t++) {
            target.addLun(t, 0, 1 << 20, 512);
        }
        // the target posts events on its own thread: a loaded machine gets there after addLun returns
        await("events missed for want of buffers", Duration.ofSeconds(5), () -> { }, target.model::eventsMissed);
        await("20 bdevs added", Duration.ofSeconds(20), ctrl::pollEvents, () -> added.size() == 20);
        assertEquals(21, ctrl.bdevs().size());
        assertFalse(target.model.eventsMissed());
        // the last buffers go back to the device after the bdevs they announced were added: wait for them too
        await("every buffer posted again", Duration.ofSeconds(5), ctrl::pollEvents, () -> target.model.postedEventBuffers() == 16);
        assertEquals(16, target.model.postedEventBuffers(), "every buffer posted again");
    }

    @Test
    void withoutHotplugAUnitAttentionOrARescanFindsChanges() {
        start(ScsiModelOptions.builder().hotplug(false), testOptions());
        target.faults().unitAttentionOnLunChange(true);
        target.addLun(0, 5, 1 << 20, 512);
        assertEquals(0, ctrl.pollEvents(), "no events without VIRTIO_SCSI_F_HOTPLUG");
        VirtioScsiDisk d = ctrl.disk(0, 0).orElseThrow();
        try (VirtioScsiChannel ch = d.openChannel()) {
            new SyncIo(ch).read(d.allocateBuffer(4096, 4096), 0);   // REPORTED LUNS DATA HAS CHANGED, retried
        }
        ctrl.pollEvents();                                            // the rescan the unit attention asked for
        assertEquals(List.of("Ht0l5"), added);
        target.removeLun(0, 5);
        ctrl.rescan();
        assertEquals(List.of("Ht0l5"), removed);
        assertEquals(List.of("Ht0"), ctrl.bdevs().stream().map(Bdev::name).toList());
    }

    @Test
    void theEventThreadCallsListenersWithoutPolling() {
        start(ScsiModelOptions.builder(), testOptions().withEventThread());
        target.addLun(2, 0, 1 << 20, 512);
        await("the event thread", Duration.ofSeconds(10), Thread::onSpinWait, () -> added.contains("Ht2"));
        target.removeLun(2, 0);
        await("the event thread", Duration.ofSeconds(10), Thread::onSpinWait, () -> removed.contains("Ht2"));
    }

    @Test
    void aRescanWithoutAFreeQueueWaitsThenRunsOnTheIoThreadsQueue() throws Exception {
        // one request queue on the device and one asked: no dedicated scan queue
        start(ScsiModelOptions.builder().requestQueues(1), testOptions());
        assertFalse(ctrl.hasDedicatedScanQueue());
        VirtioScsiDisk d = ctrl.disk(0, 0).orElseThrow();
        CompletableFuture<VirtioScsiChannel> held = new CompletableFuture<>();
        CompletableFuture<Void> release = new CompletableFuture<>();
        CompletableFuture<List<String>> seenByIoThread = new CompletableFuture<>();
        Thread io = Thread.ofPlatform().start(() -> {
            try (VirtioScsiChannel ch = d.openChannel()) {
                held.complete(ch);
                release.get(20, TimeUnit.SECONDS);
                // the I/O thread polls events itself: the rescan runs on its queue
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (!added.contains("Ht1") && System.nanoTime() < deadline) {
                    ch.poll();
                    ctrl.pollEvents();
                }
                seenByIoThread.complete(List.copyOf(added));
            } catch (Throwable e) {
                held.completeExceptionally(e);
                seenByIoThread.completeExceptionally(e);
            }
        });
        held.get(10, TimeUnit.SECONDS);
        target.addLun(1, 0, 1 << 20, 512);
        // this thread has no queue and none is free: the rescan waits
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300);
        while (System.nanoTime() < deadline) {
            ctrl.pollEvents();
        }
        assertTrue(added.isEmpty());
        release.complete(null);
        assertEquals(List.of("Ht1"), seenByIoThread.get(20, TimeUnit.SECONDS));
        io.join();
    }

    @Test
    void aRemovedBdevsChannelOnAnIdleThreadDrainsWhenClosed() {
        start(ScsiModelOptions.builder().requestQueues(3), testOptions());
        target.addLun(0, 2, 1 << 20, 512);
        await("LUN 2", Duration.ofSeconds(10), ctrl::pollEvents, () -> added.contains("Ht0l2"));
        VirtioScsiChannel ch = ctrl.disk(0, 2).orElseThrow().openChannel();
        target.removeLun(0, 2);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(200);
        while (System.nanoTime() < deadline) {
            ctrl.pollEvents();
        }
        assertTrue(removed.isEmpty(), "an open channel not polled since: the removal waits for it");
        assertEquals(1, ctrl.pendingRemovals());
        ch.close();
        ctrl.pollEvents();
        assertEquals(List.of("Ht0l2"), removed);
        assertEquals(0, ctrl.pendingRemovals());
    }

    @Test
    void closingTheControllerFailsOpenChannels() {
        start(ScsiModelOptions.builder(), testOptions());
        VirtioScsiDisk d = ctrl.disk(0, 0).orElseThrow();
        target.faults().delayAll(CommandFilter.any(), Duration.ofSeconds(5));
        VirtioScsiChannel ch = d.openChannel();
        ScsiTestSupport.Outcome o = new ScsiTestSupport.Outcome();
        assertTrue(ch.read(d.allocateBuffer(4096, 4096), 0, o, null));
        ctrl.close();
        o.await(ch, Duration.ofSeconds(10));
        VirtioException e = o.error;
        assertNotNull(e);
        assertTrue(e.getMessage().contains("was closed with I/O in flight"), e.getMessage());
        assertThrows(BdevIoException.class, () -> ch.flush(null, null));
        ch.close();
        ctrl = null;
    }
}
