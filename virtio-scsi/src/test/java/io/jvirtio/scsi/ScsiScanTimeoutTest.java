package io.jvirtio.scsi;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.backend.scsi.CommandFilter;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static io.jvirtio.scsi.ScsiTestSupport.testOptions;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A scan command the device sits on: the scan goes on without that target, bounded by the command timeout. */
class ScsiScanTimeoutTest {
    private static final Duration STUCK_FOR = Duration.ofMillis(4000);
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

    private void start(int requestQueues) {
        target = JavaScsiTarget.start(dir.resolve("scsi.sock"), ScsiModelOptions.builder().name("tgt").requestQueues(requestQueues).build());
        target.addLun(0, 0, 1 << 20, 512);
        target.addLun(2, 0, 1 << 20, 512);
        target.addLun(4, 0, 1 << 20, 512);
        // Far longer than the 300 ms command timeout, so "attach did not wait for it" is told by the
        // command still being with the device, not by a wall-clock bound a loaded machine can break.
        target.faults().delayNext(CommandFilter.target(2), 1, STUCK_FOR);
    }

    @Test
    void aStuckTargetIsSkippedAndFoundByALaterRescan() {
        start(2);
        long t0 = System.nanoTime();
        ctrl = VirtioScsiController.connectVhostUser("T", target.socket(), testOptions().withCommandTimeout(Duration.ofMillis(300)));
        assertTrue(System.nanoTime() - t0 < STUCK_FOR.toNanos(), "attach is bounded by the command timeout, not the stuck command");
        assertTrue(target.model.inflightCount() > 0, "attach returned while the stuck command was still with the device");
        assertTrue(ctrl.hasDedicatedScanQueue());
        assertEquals(List.of("Tt0", "Tt4"), ctrl.bdevs().stream().map(Bdev::name).toList());
        ScsiTestSupport.await("the late answer", Duration.ofSeconds(10), () -> { }, () -> target.model.inflightCount() == 0);
        ctrl.rescanTarget(2);
        assertEquals(List.of("Tt0", "Tt2", "Tt4"), ctrl.bdevs().stream().map(Bdev::name).toList());
    }

    @Test
    void withOneRequestQueueTheQueueOfAStuckScanIsParkedThenReused() {
        start(1);
        ctrl = VirtioScsiController.connectVhostUser("T", target.socket(), testOptions().withCommandTimeout(Duration.ofMillis(300)));
        assertTrue(!ctrl.hasDedicatedScanQueue());
        assertEquals(List.of("Tt0", "Tt4"), ctrl.bdevs().stream().map(Bdev::name).toList());
        // the only request queue still has the stuck command: an I/O channel gets it anyway
        VirtioScsiDisk d = ctrl.disk(0, 0).orElseThrow();
        try (VirtioScsiChannel ch = d.openChannel()) {
            new SyncIo(ch).read(d.allocateBuffer(4096, 4096), 0);
            ScsiTestSupport.await("the late answer", Duration.ofSeconds(10), ch::poll, () -> target.model.inflightCount() == 0);
        }
        ctrl.rescan();
        assertEquals(List.of("Tt0", "Tt2", "Tt4"), ctrl.bdevs().stream().map(Bdev::name).toList());
    }
}
