package io.jvirtio.scsi;

import io.jvirtio.spec.scsi.VirtioScsiSpec;

import io.jvirtio.bdev.SyncIo;
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
import java.util.concurrent.CopyOnWriteArrayList;

import static io.jvirtio.scsi.ScsiTestSupport.assertSameBytes;
import static io.jvirtio.scsi.ScsiTestSupport.fill;
import static io.jvirtio.scsi.ScsiTestSupport.testOptions;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** LOGICAL UNIT RESET on the control queue, with I/O in flight, completed on the thread that asked. */
class ScsiResetTest {
    @TempDir
    Path dir;
    private JavaScsiTarget target;
    private VirtioScsiController ctrl;

    @AfterEach
    void tearDown() {
        if (ctrl != null) {
            ctrl.close();
        }
        if (target != null) {
            target.close();
        }
    }

    private void start(VirtioScsiOptions options) {
        target = JavaScsiTarget.start(dir.resolve("scsi.sock"), ScsiModelOptions.builder().name("tgt").requestQueues(2).build());
        target.addLun(0, 0, 1 << 20, 512);
        target.addLun(0, 1, 1 << 20, 512);
        ctrl = VirtioScsiController.connectVhostUser("R", target.socket(), options);
    }

    @Test
    void resetWithIoInFlightCompletesThatIoFirstOnTheAskingThread() {
        // the event thread polls the control queue too: the callbacks must still run on this thread
        start(testOptions().withEventThread());
        VirtioScsiDisk d = ctrl.disk(0, 0).orElseThrow();
        VirtioScsiDisk other = ctrl.disk(0, 1).orElseThrow();
        target.faults().delayAll(CommandFilter.lun(0, 0), Duration.ofSeconds(2));
        List<String> order = new CopyOnWriteArrayList<>();
        try (VirtioScsiChannel ch = d.openChannel(); VirtioScsiChannel och = other.openChannel()) {
            List<ScsiTestSupport.Outcome> writes = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                MemorySegment b = d.allocateBuffer(4096, 4096);
                fill(b, i);
                ScsiTestSupport.Outcome o = new ScsiTestSupport.Outcome() {
                    @Override
                    public void onComplete(Object context, io.jvirtio.spec.VirtioException e) {
                        order.add("write");
                        super.onComplete(context, e);
                    }
                };
                writes.add(o);
                assertTrue(ch.write(b, i * 4096L, o, null));
            }
            // I/O of another LUN on the same queue is not affected
            MemorySegment ob = other.allocateBuffer(4096, 4096);
            fill(ob, 99);
            ScsiTestSupport.Outcome otherWrite = new ScsiTestSupport.Outcome();
            assertTrue(och.write(ob, 0, otherWrite, null));
            ScsiTestSupport.Outcome reset = new ScsiTestSupport.Outcome() {
                @Override
                public void onComplete(Object context, io.jvirtio.spec.VirtioException e) {
                    order.add("reset");
                    super.onComplete(context, e);
                }
            };
            // queues are not ordered with each other: let the target hold the writes before the TMF goes
            ScsiTestSupport.await("the target holding the writes", Duration.ofSeconds(5), ch::poll,
                    () -> target.model.inflightCount() >= 4);
            long start = System.nanoTime();
            assertTrue(ch.reset(reset, null));
            reset.await(ch, Duration.ofSeconds(10));
            assertTrue(System.nanoTime() - start < Duration.ofSeconds(2).toNanos(), "the reset ended the delayed commands early");
            assertNull(reset.error, () -> String.valueOf(reset.error));
            assertSame(Thread.currentThread(), reset.thread);
            assertEquals(List.of("write", "write", "write", "write", "reset"), order, "in-flight I/O completes before the reset");
            for (ScsiTestSupport.Outcome w : writes) {
                assertSame(Thread.currentThread(), w.thread);
                assertNotNull(w.error);
                ScsiIoException e = assertInstanceOf(ScsiIoException.class, w.error);
                assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_RESET, e.response(), e.getMessage());
            }
            otherWrite.await(och, Duration.ofSeconds(10));
            assertNull(otherWrite.error);
            assertSameBytes(ob, target.ram(0, 1).contents().asSlice(0, 4096), "other LUN");
            target.faults().clear();
            MemorySegment b = d.allocateBuffer(4096, 4096);
            fill(b, 7);
            new SyncIo(ch).write(b, 0);
            assertSameBytes(b, target.ram(0, 0).contents().asSlice(0, 4096), "after the reset");
        }
    }

    @Test
    void resetWithoutIoAndManyResets() {
        start(testOptions());
        VirtioScsiDisk d = ctrl.disk(0, 1).orElseThrow();
        try (VirtioScsiChannel ch = d.openChannel()) {
            SyncIo io = new SyncIo(ch);
            for (int i = 0; i < 40; i++) {
                io.reset();
            }
            // more resets at once than TMF contexts: submits return false, never throw
            List<ScsiTestSupport.Outcome> outs = new ArrayList<>();
            int refused = 0;
            for (int i = 0; i < 2 * ControlQueue.MAX_TMFS; i++) {
                ScsiTestSupport.Outcome o = new ScsiTestSupport.Outcome();
                if (ch.reset(o, null)) {
                    outs.add(o);
                } else {
                    refused++;
                }
            }
            assertTrue(refused > 0, "the TMF pool is bounded");
            for (ScsiTestSupport.Outcome o : outs) {
                o.await(ch, Duration.ofSeconds(10));
                assertNull(o.error);
            }
            assertEquals(0, ch.inFlight());
        }
    }
}
