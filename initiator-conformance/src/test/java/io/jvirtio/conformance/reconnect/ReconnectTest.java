package io.jvirtio.conformance.reconnect;

import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.ReconnectPolicy;
import io.jvirtio.core.vhostuser.VhostUserOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

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
    private static final long DISK = 64L << 20;

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
     * had popped, from the inflight area jvirtio kept) and without it (jvirtio's own replay alone), on
     * split rings and on packed rings (the area in QEMU's packed format, {@code QueueRegionPacked}:
     * the restarted target takes its used position and the chains in flight from there).
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "server mode {0}, inflight {1}, {2} ring")
    @org.junit.jupiter.params.provider.CsvSource({"false, true, SPLIT", "false, false, SPLIT", "true, true, SPLIT", "true, false, SPLIT",
            "false, true, PACKED", "false, false, PACKED", "true, true, PACKED", "true, false, PACKED"})
    void javaTargetSigkilledAndRestartedLosesNoIo(boolean serverMode, boolean inflight, io.jvirtio.core.RingType ring) throws Exception {
        Path sock = dir.resolve("r.sock");
        Path image = image();
        String spec = "file:" + image + ",queues=" + VerifyWorkload.THREADS + (inflight ? "" : ",proto-off=INFLIGHT_SHMFD");
        Path log = dir.resolve("target.log");
        VhostUserOptions vu = serverMode ? VhostUserOptions.builder().server(true, java.time.Duration.ofSeconds(30)).build()
                : VhostUserOptions.defaults();
        run(sock, image, RESTARTS, vu, ring, () -> {
            TargetProcess t = serverMode ? TargetProcess.startClient(sock, log, "--blk", spec) : TargetProcess.start(sock, log, "--blk", spec);
            return t::kill;
        });
        long resubmits = java.nio.file.Files.readAllLines(log).stream().filter(l -> l.contains("from the inflight region")).count();
        System.out.printf("  the restarted targets resubmitted from the inflight area %d times%n", resubmits);
        if (inflight && RESTARTS >= 20) { // a kill finds a request popped and not done only now and then
            assertTrue(resubmits > 0, "with INFLIGHT_SHMFD some restart found requests in the inflight area: " + log);
        } else if (!inflight) {
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
        run(sock, image, QSD_RESTARTS, VhostUserOptions.defaults(), io.jvirtio.core.RingType.AUTO, () -> {
            io.jvirtio.testkit.QemuStorageDaemon q = io.jvirtio.testkit.QemuStorageDaemon.file(image).numQueues(VerifyWorkload.THREADS).socket(sock).start();
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

    private void run(Path sock, Path image, int restarts, VhostUserOptions vhostUser, io.jvirtio.core.RingType ring, Launcher launcher)
            throws Exception {
        Target target = launcher.start();
        ReconnectPolicy policy = new ReconnectPolicy(30, 1, 0);
        VirtioBlkDevice blk = VirtioBlkDevice.connectVhostUser("rc0", sock,
                VirtioBlkOptions.defaults().withRequestQueues(VerifyWorkload.THREADS).withReconnect(policy).withRingType(ring), vhostUser);
        if (ring != io.jvirtio.core.RingType.AUTO) {
            assertEquals(ring == io.jvirtio.core.RingType.PACKED,
                    blk.device().hasFeature(io.jvirtio.spec.VirtioFeatures.VIRTIO_F_RING_PACKED), "the ring format asked for");
        }
        VerifyWorkload load = new VerifyWorkload(blk, blk.device(), "rc-io-");
        try {
            target = restartUnderLoad(load, restarts, target, launcher);
        } finally {
            load.stop();
        }
        System.out.printf("reconnect to %s: %d restarts (SIGKILL + new process), %d reconnects, %d verified I/Os, longest stall %d ms%n",
                sock.getFileName(), restarts, load.reconnects.get(), load.total(), load.longestStallMillis());
        load.assertClean();
        assertEquals(restarts, load.reconnects.get(), "one reconnect per restart");
        assertTrue(load.givenUp.isEmpty(), load.givenUp::toString);
        blk.close();
        target.kill();
        load.assertFileHoldsLastWrites(image);
    }

    /**
     * Kills the target and starts it again {@code restarts} times, each time once the workload has
     * made progress, and waits for progress after the last restart.
     *
     * @return the target running now
     */
    static Target restartUnderLoad(VerifyWorkload load, int restarts, Target target, Launcher launcher) throws Exception {
        long ioBefore = 0;
        for (int r = 0; r < restarts; r++) {
            load.waitForProgress(ioBefore, 20_000, "before restart " + r);
            target.kill();
            target = launcher.start();
            ioBefore = load.total();
            assertTrue(load.givenUp.isEmpty(), load.givenUp::toString);
        }
        load.waitForProgress(ioBefore, 20_000, "after the last restart");
        return target;
    }
}
