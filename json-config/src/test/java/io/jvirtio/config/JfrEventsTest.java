package io.jvirtio.config;

import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.blk.VirtioBlkModel;
import io.jvirtio.backend.fault.UsedRingFault;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.bdev.IoChannel;
import io.jvirtio.bdev.jfr.AttachEvent;
import io.jvirtio.bdev.jfr.BdevStatisticsEvent;
import io.jvirtio.bdev.jfr.DetachEvent;
import io.jvirtio.bdev.jfr.IoErrorEvent;
import io.jvirtio.core.jfr.LinkDownEvent;
import io.jvirtio.core.jfr.RingViolationEvent;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import io.jvirtio.core.VirtioDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A JFR recording of a short run against the in-process Java target: attach, I/O, an injected I/O
 * error, a ring violation, detach, then a second device whose target drops the connection; the jvirtio events are in the file with
 * their fields, and the periodic bdev statistics event carries the counts.
 */
class JfrEventsTest {
    @TempDir
    Path dir;

    @Test
    void aShortRunRecordsTheJvirtioEvents() throws IOException, InterruptedException {
        RamBlockStore store = new RamBlockStore(4L << 20, false);
        VhostUserTarget target = VhostUserTarget.builder().name("blk0").socket(dir.resolve("blk0.sock"))
                .model(new VirtioBlkModel("blk0", store, BlkModelOptions.defaults())).start();
        RamBlockStore store1 = new RamBlockStore(1L << 20, false);
        VhostUserTarget target1 = VhostUserTarget.builder().name("blk1").socket(dir.resolve("blk1.sock"))
                .model(new VirtioBlkModel("blk1", store1, BlkModelOptions.defaults())).start();
        Path file = dir.resolve("run.jfr");
        // what `perf --jfr` does too: the hook is registered before the recording starts, so JFR's
        // periodic thread schedules it from the start (the first bdev would register it otherwise)
        BdevStatisticsEvent.ensureRegistered();
        try (Recording rec = new Recording()) {
            for (String name : List.of(AttachEvent.NAME, DetachEvent.NAME, IoErrorEvent.NAME, LinkDownEvent.NAME,
                    RingViolationEvent.NAME, "io.jvirtio.LinkReconnect")) {
                rec.enable(name).withoutThreshold();
            }
            rec.enable(BdevStatisticsEvent.NAME).withPeriod(Duration.ofMillis(100));
            rec.start();
            try (BdevRegistry registry = new BdevRegistry()) {
                registry.attachController(ControllerParams.user("VirtioBlk0", "blk", dir.resolve("blk0.sock"), 1, 128));
                Bdev blk = registry.bdev("VirtioBlk0");
                MemorySegment buf = blk.allocateBuffer(8192, 4096);
                try (IoChannel ch = blk.openChannel()) {
                    IoHarness io = new IoHarness(ch);
                    io.ok((c, cb) -> c.write(buf, 0, cb, null));
                    io.ok((c, cb) -> c.read(buf, 0, cb, null));
                    io.ok((c, cb) -> c.read(buf.asSlice(0, 4096), 4096, cb, null));
                    target.faults().failNextRequests(1);
                    BdevIoException failed = (BdevIoException) io.run((c, cb) -> c.read(buf.asSlice(0, 4096), 8192, cb, null));
                    assertEquals(Reason.DEVICE_STATUS, failed.reason());
                    Thread.sleep(600); // a few periods of the statistics event
                    target.faults().corruptNextUsed(0, UsedRingFault.LEN_TOO_LARGE);
                    BdevIoException broken = (BdevIoException) io.run((c, cb) -> c.read(buf.asSlice(0, 4096), 0, cb, null));
                    assertEquals(Reason.QUEUE_BROKEN, broken.reason());
                }
                blk.freeBuffer(buf);
                registry.detachController("VirtioBlk0");

                // a target that goes away: no reconnect policy, so the link is down for good
                registry.attachController(ControllerParams.user("VirtioBlk1", "blk", dir.resolve("blk1.sock"), 1, 128));
                Bdev blk1 = registry.bdev("VirtioBlk1");
                MemorySegment buf1 = blk1.allocateBuffer(4096, 4096);
                try (IoChannel ch = blk1.openChannel()) {
                    target1.faults().dropConnectionAfter(0);
                    BdevIoException lost = (BdevIoException) new IoHarness(ch).run((c, cb) -> c.read(buf1, 0, cb, null));
                    assertEquals(Reason.TRANSPORT_LOST, lost.reason(), lost.getMessage());
                }
                // the I/O can fail on the dead socket before the hang-up watcher reports the loss (and
                // emits LinkDown); the registry would then close the device first
                VirtioDevice device1 = registry.controllers().stream().filter(c -> c.name().equals("VirtioBlk1")).findFirst()
                        .flatMap(Controller::device).orElseThrow();
                long until = System.nanoTime() + 10_000_000_000L;
                while (device1.linkDownMessage() == null && System.nanoTime() < until) {
                    Thread.sleep(5);
                }
                assertNotNull(device1.linkDownMessage(), "the loss of VirtioBlk1's target was never reported");
                blk1.freeBuffer(buf1);
            }
            rec.stop();
            rec.dump(file);
        } finally {
            target.close();
            store.close();
            target1.close();
            store1.close();
        }
        List<RecordedEvent> events = RecordingFile.readAllEvents(file);

        RecordedEvent attach = one(events, AttachEvent.NAME, e -> "VirtioBlk0".equals(e.getString("name")));
        assertEquals("VirtioBlk0", attach.getString("name"));
        assertEquals("blk", attach.getString("deviceType"));
        assertEquals(1, attach.getInt("requestQueues"));
        assertEquals(128, attach.getInt("queueSize"));
        assertEquals(1, attach.getInt("bdevs"));
        assertEquals("jvirtio", attach.getEventType().getCategoryNames().getFirst());

        RecordedEvent error = one(events, IoErrorEvent.NAME, e -> "DEVICE_STATUS".equals(e.getString("reason")));
        assertEquals("VirtioBlk0", error.getString("bdev"));
        assertEquals("read", error.getString("operation"));
        assertEquals(8192, error.getLong("offset"));
        assertTrue(error.getString("queue").startsWith("VirtioBlk0"), error.getString("queue"));
        assertNotNull(error.getString("message"));
        one(events, IoErrorEvent.NAME, e -> "QUEUE_BROKEN".equals(e.getString("reason")));

        RecordedEvent ring = one(events, RingViolationEvent.NAME, e -> true);
        assertEquals("LEN_TOO_LARGE", ring.getString("violation"));
        assertEquals(1, ring.getInt("requestsFailed"));

        RecordedEvent detach = one(events, DetachEvent.NAME, e -> "VirtioBlk0".equals(e.getString("name")));
        assertEquals("blk", detach.getString("deviceType"));
        one(events, DetachEvent.NAME, e -> "VirtioBlk1".equals(e.getString("name"))); // the registry closed it

        RecordedEvent down = one(events, LinkDownEvent.NAME, e -> true);
        assertEquals("VirtioBlk1", down.getString("device"));
        assertFalse(down.getBoolean("reconnecting"));
        assertNotNull(down.getString("reason"));
        one(events, IoErrorEvent.NAME, e -> "TRANSPORT_LOST".equals(e.getString("reason")));

        List<RecordedEvent> stats = events.stream().filter(e -> e.getEventType().getName().equals(BdevStatisticsEvent.NAME)
                && "VirtioBlk0".equals(e.getString("bdev"))).toList();
        assertFalse(stats.isEmpty(), "periodic statistics of VirtioBlk0");
        RecordedEvent last = stats.getLast();
        assertEquals(2, last.getLong("readOps"), last.toString());
        assertEquals(8192 + 4096, last.getLong("bytesRead"));
        assertEquals(1, last.getLong("writeOps"));
        assertTrue(last.getLong("ioErrors") >= 1);
        System.out.println("recorded: " + attach + error + ring + down + detach + last);
    }

    private static RecordedEvent one(List<RecordedEvent> events, String name, Predicate<RecordedEvent> p) {
        List<RecordedEvent> found = events.stream().filter(e -> e.getEventType().getName().equals(name)).filter(p).toList();
        assertEquals(1, found.size(), name + " events: " + found);
        return found.getFirst();
    }
}
