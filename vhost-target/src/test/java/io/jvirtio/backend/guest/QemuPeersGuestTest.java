package io.jvirtio.backend.guest;

import io.jvirtio.backend.guest.GuestTargets.Attached;
import io.jvirtio.backend.guest.GuestTargets.BlkTargetFactory;
import io.jvirtio.backend.guest.GuestTargets.ScsiLun;
import io.jvirtio.backend.guest.GuestTargets.ScsiTargetFactory;
import io.jvirtio.testkit.QemuStorageDaemon;
import io.jvirtio.testkit.guest.GuestResult;
import io.jvirtio.testkit.guest.LinuxGuest;
import io.jvirtio.testkit.guest.ScsiDisk;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.jvirtio.backend.guest.GuestStorageChecks.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The guest checks ({@link GuestStorageChecks}) against real peers that exist today, proving the
 * harness before the Java target is ready: qemu-storage-daemon as the vhost-user-blk target, and
 * QEMU's own emulated virtio-scsi ({@code scsi-hd}) for the SCSI side (no vhost-user-scsi target is
 * available on these machines). {@link JavaTargetGuestTest} runs the same checks against
 * {@code io.jvirtio.backend}.
 */
@RequiresLinuxGuest
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class QemuPeersGuestTest {

    /** qemu-storage-daemon serving the image file over vhost-user-blk (it always offers discard). */
    static final BlkTargetFactory QSD = (id, disk, workDir) -> {
        QemuStorageDaemon qsd = QemuStorageDaemon.file(disk.image()).numQueues(disk.numQueues())
                .logicalBlockSize(disk.logicalBlockSize()).start();
        return Attached.of(qsd, g -> g.vhostUserBlk(id, qsd.socketPath(), disk.numQueues()));
    };

    /** QEMU's emulated virtio-scsi-pci with one scsi-hd per LUN (discard=unmap on each drive). */
    static final ScsiTargetFactory EMULATED_SCSI = (id, luns, numQueues, discard, workDir) -> {
        List<ScsiDisk> disks = luns.stream()
                .map(l -> ScsiDisk.of(l.image(), l.target(), l.lun()).with("logical_block_size=" + l.logicalBlockSize()
                        + ",physical_block_size=" + l.logicalBlockSize()))
                .toList();
        return Attached.of(null, g -> g.virtioScsi(id, numQueues, disks));
    };

    @Test
    void vhostUserBlkOnQemuStorageDaemon(@TempDir Path dir) throws Exception {
        assumeTrue(QemuStorageDaemon.findBinary().isPresent() || "1".equals(System.getenv(QemuStorageDaemon.REQUIRE_ENV)),
                QemuStorageDaemon::notFoundMessage);
        GuestResult r = GuestStorageChecks.checkBlk(QSD, List.of(
                GuestStorageChecks.blkDisk(dir, "d512", 64 * MIB, 512, 2, true),
                GuestStorageChecks.blkDisk(dir, "d4k", 32 * MIB, 4096, 1, true)), dir);
        assertTrue(r.skippedSteps().isEmpty(), () -> "steps skipped: " + r.skippedSteps());
        System.out.println("qemu-storage-daemon blk guest: " + r.wallTime().toMillis() + " ms wall, script started at uptime "
                + r.scriptStartUptime() + " s\n" + r.scriptOutput());
    }

    @Test
    void emulatedVirtioScsiShowsEveryLunOfEveryTarget(@TempDir Path dir) throws Exception {
        List<ScsiLun> luns = List.of(
                GuestStorageChecks.scsiLun(dir, "scsi0", 0, 0, 32 * MIB, 512),
                GuestStorageChecks.scsiLun(dir, "scsi0", 0, 1, 16 * MIB, 512),
                GuestStorageChecks.scsiLun(dir, "scsi0", 1, 0, 32 * MIB, 4096),
                GuestStorageChecks.scsiLun(dir, "scsi0", 2, 3, 16 * MIB, 512));
        GuestResult r = GuestStorageChecks.checkScsi(EMULATED_SCSI, luns, 2, true, dir);
        assertTrue(r.skippedSteps().isEmpty(), () -> "steps skipped: " + r.skippedSteps());
        System.out.println("emulated virtio-scsi guest: " + r.wallTime().toMillis() + " ms wall, script started at uptime "
                + r.scriptStartUptime() + " s\n" + r.scriptOutput());
    }

    /**
     * The {@code vhost-user-scsi-pci} helper's command line is what QEMU 7.2 accepts: QEMU connects
     * to the socket and opens the protocol with GET_FEATURES. (No vhost-user-scsi target exists
     * here to boot against; this fake peer then hangs up, and QEMU gives up.)
     */
    @Test
    void vhostUserScsiDeviceConnectsToItsSocket(@TempDir Path dir) throws Exception {
        Path sock = dir.resolve("scsi.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            CompletableFuture<Integer> firstRequest = CompletableFuture.supplyAsync(() -> {
                try (SocketChannel c = server.accept()) {
                    ByteBuffer header = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
                    while (header.hasRemaining() && c.read(header) >= 0) {
                        // read the vhost-user header: request u32, flags u32, size u32
                    }
                    return header.hasRemaining() ? -1 : header.getInt(0);
                } catch (IOException e) {
                    return -2;
                }
            });
            GuestResult r = LinuxGuest.builder().vhostUserScsi("vus0", sock, 2).keepLogsIn(dir.resolve("logs"))
                    .timeout(Duration.ofSeconds(30)).run("true");
            assertEquals(1, firstRequest.get(30, TimeUnit.SECONDS), "QEMU's first vhost-user request should be GET_FEATURES (1)");
            assertFalse(r.succeeded(), "a guest whose vhost-user peer hung up cannot have run");
            assertTrue(r.qemuOutput().contains("vhost") || r.qemuOutput().contains("vus0"), r::describe);
        }
    }
}
