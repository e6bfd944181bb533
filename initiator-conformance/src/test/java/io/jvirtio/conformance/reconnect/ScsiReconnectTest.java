package io.jvirtio.conformance.reconnect;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.core.ReconnectPolicy;
import io.jvirtio.scsi.BdevListener;
import io.jvirtio.scsi.VirtioScsiController;
import io.jvirtio.scsi.VirtioScsiDisk;
import io.jvirtio.scsi.VirtioScsiOptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * virtio-scsi's reconnect under load: the Java target process serving a file-backed LUN is SIGKILLed
 * and started again on the same socket, over and over, under the verify workload on two request
 * queues from two threads. The controller reconnects, the rings (request, control, event and scan
 * queues) are handed to the new process, the targets are rescanned; every I/O completes exactly
 * once, without error, every read-back equals what was written, the file holds the last write of
 * every block, and the LUN keeps its bdev (the rescans find it unchanged).
 */
class ScsiReconnectTest {
    private static final int RESTARTS = Integer.getInteger("jvirtio.reconnect.scsi-restarts", 20);
    private static final long DISK = 64L << 20;

    @TempDir
    Path dir;

    /**
     * With INFLIGHT_SHMFD (the restarted target resubmits what the dead one had popped) and without (jvirtio's replay
     * alone), on split and on packed rings (the area in QEMU's packed format).
     */
    @ParameterizedTest(name = "inflight {0}, {1} ring")
    @org.junit.jupiter.params.provider.CsvSource({"true, SPLIT", "false, SPLIT", "true, PACKED", "false, PACKED"})
    void scsiTargetSigkilledAndRestartedLosesNoIo(boolean inflight, io.jvirtio.core.RingType ring) throws Exception {
        Path sock = dir.resolve("s.sock");
        Path image = dir.resolve("lun0.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(DISK);
        }
        // four request queues: the two I/O queues and a dedicated scan queue fit
        String spec = "file:" + image + ",size=64M,queues=4" + (inflight ? "" : ",proto-off=INFLIGHT_SHMFD");
        Path log = dir.resolve("target.log");
        ReconnectTest.Launcher launcher = () -> {
            TargetProcess t = TargetProcess.start(sock, log, "--scsi", spec);
            return t::kill;
        };
        ReconnectTest.Target target = launcher.start();
        VirtioScsiController ctrl = VirtioScsiController.connectVhostUser("rcs0", sock, VirtioScsiOptions.defaults()
                .withRequestQueues(VerifyWorkload.THREADS).withEventThread().withReconnect(new ReconnectPolicy(30, 1, 0)).withRingType(ring));
        assertEquals(ring == io.jvirtio.core.RingType.PACKED,
                ctrl.device().hasFeature(io.jvirtio.spec.VirtioFeatures.VIRTIO_F_RING_PACKED), "the ring format asked for");
        ConcurrentLinkedQueue<String> lunEvents = new ConcurrentLinkedQueue<>();
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
        assertTrue(ctrl.hasDedicatedScanQueue(), "a scan queue of its own");
        VirtioScsiDisk lun = ctrl.bdevs().getFirst();
        VerifyWorkload load = new VerifyWorkload(lun, ctrl.device(), "rcs-io-");
        try {
            target = ReconnectTest.restartUnderLoad(load, RESTARTS, target, launcher);
        } finally {
            load.stop();
        }
        long resubmits = Files.readAllLines(log).stream().filter(l -> l.contains("from the inflight region")).count();
        System.out.printf("scsi reconnect to %s (inflight %s): %d restarts (SIGKILL + new process), %d reconnects, %d verified I/Os,"
                        + " longest stall %d ms, %d resubmissions from the inflight area, LUN events %s%n",
                sock.getFileName(), inflight ? "on" : "off", RESTARTS, load.reconnects.get(), load.total(), load.longestStallMillis(),
                resubmits, lunEvents);
        load.assertClean();
        assertEquals(RESTARTS, load.reconnects.get(), "one reconnect per restart");
        assertTrue(load.givenUp.isEmpty(), load.givenUp::toString);
        assertEquals(List.of(), List.copyOf(lunEvents), "the rescans after the reconnects found the LUN unchanged");
        assertSame(lun, ctrl.bdevs().getFirst(), "the same bdev serves the LUN");
        assertEquals(1, ctrl.bdevs().size());
        if (!inflight) {
            assertEquals(0, resubmits, "without INFLIGHT_SHMFD nothing is resubmitted from an inflight area");
        }
        ctrl.close();
        target.kill();
        load.assertFileHoldsLastWrites(image);
    }
}
