package io.jvirtio.backend.guest;

import io.jvirtio.backend.guest.GuestTargets.BlkTargetFactory;
import io.jvirtio.backend.guest.GuestTargets.ScsiLun;
import io.jvirtio.backend.guest.GuestTargets.ScsiTargetFactory;
import io.jvirtio.testkit.guest.GuestResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.jvirtio.backend.guest.GuestStorageChecks.MIB;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Issue 4's proof that the Java target is a correct device: Linux's own virtio-blk and virtio-scsi
 * drivers, in a guest, against {@code io.jvirtio.backend} over vhost-user — the same checks
 * {@link QemuPeersGuestTest} runs against qemu-storage-daemon and QEMU's emulated virtio-scsi.
 *
 * <p><b>Switch</b>: {@link #JAVA_BLK} and {@link #JAVA_SCSI} point at {@link JavaTargetFactories}
 * (the only file that uses the target's API); a test whose factory is {@code null} is skipped with
 * the reason. Both are on. (QEMU 7.2's {@code vhost-user-scsi-pci} acknowledges
 * VIRTIO_SCSI_F_CHANGE whether offered or not, so the target offers it, as SPDK does; and QEMU sends
 * SET_VRING_CALL while rings run, so the target signals a new call fd once, as libvhost-user does.)
 *
 * <p>What these checks exercise in the target: QEMU is the vhost-user front-end (client, connects
 * once when the guest starts); guest RAM is a shared memfd with 4 KiB pages; the guest's
 * drivers negotiate VERSION_1; virtio-blk's config must give the capacity in 512-byte sectors and
 * {@code blk_size}, and DISCARD needs its config limits; virtio-scsi must answer what Linux's scan
 * and sd send (INQUIRY with VPD pages, REPORT LUNS, READ CAPACITY, MODE SENSE, READ/WRITE,
 * SYNCHRONIZE CACHE, UNMAP), including REPORT LUNS at LUN 0 of a target that has no LUN 0
 * (target 2 below has only LUN 3).
 */
@RequiresLinuxGuest
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class JavaTargetGuestTest {
    /** The Java target serving virtio-blk over vhost-user ({@code null}: skip the blk tests). */
    static final BlkTargetFactory JAVA_BLK = JavaTargetFactories::blk;
    /**
     * The Java target serving virtio-scsi over vhost-user ({@code null}: skip the scsi tests).
     * Switch on with {@code = JavaTargetFactories::scsi} once the target offers or accepts VIRTIO_SCSI_F_CHANGE (see the class comment).
     */
    static final ScsiTargetFactory JAVA_SCSI = JavaTargetFactories::scsi;

    private static final String BLK_OFF = "the Java target's vhost-user-blk device is not switched on (JavaTargetGuestTest.JAVA_BLK)";
    private static final String SCSI_OFF = "the Java target's vhost-user-scsi device is not switched on (JavaTargetGuestTest.JAVA_SCSI):"
            + " QEMU acks VIRTIO_SCSI_F_CHANGE, which the target does not offer yet";

    @Test
    void linuxVirtioBlkDriverAgainstTheJavaTarget(@TempDir Path dir) throws Exception {
        assumeTrue(JAVA_BLK != null, BLK_OFF);
        GuestResult r = GuestStorageChecks.checkBlk(JAVA_BLK, List.of(
                GuestStorageChecks.blkDisk(dir, "d512", 64 * MIB, 512, 2, true),
                GuestStorageChecks.blkDisk(dir, "d4k", 32 * MIB, 4096, 1, true),
                GuestStorageChecks.blkDisk(dir, "nodiscard", 16 * MIB, 512, 1, false)), dir);
        System.out.println("Java target blk guest: " + r.wallTime().toMillis() + " ms\n" + r.scriptOutput());
    }

    @Test
    void linuxVirtioScsiDriverSeesEveryLunOfTheJavaTarget(@TempDir Path dir) throws Exception {
        assumeTrue(JAVA_SCSI != null, SCSI_OFF);
        List<ScsiLun> luns = List.of(
                GuestStorageChecks.scsiLun(dir, "scsi0", 0, 0, 32 * MIB, 512),
                GuestStorageChecks.scsiLun(dir, "scsi0", 0, 1, 16 * MIB, 512),
                GuestStorageChecks.scsiLun(dir, "scsi0", 1, 0, 32 * MIB, 4096),
                GuestStorageChecks.scsiLun(dir, "scsi0", 2, 3, 16 * MIB, 512));
        GuestResult r = GuestStorageChecks.checkScsi(JAVA_SCSI, luns, 2, true, dir);
        System.out.println("Java target scsi guest: " + r.wallTime().toMillis() + " ms\n" + r.scriptOutput());
    }

    /** Issue 14: Linux's packed-ring driver against the target's packed ring (QEMU's {@code packed=on}). */
    @Test
    void linuxVirtioBlkDriverOnPackedRings(@TempDir Path dir) throws Exception {
        assumeTrue(JAVA_BLK != null, BLK_OFF);
        GuestResult r = GuestStorageChecks.checkBlk(JavaTargetFactories::blkPacked, List.of(
                GuestStorageChecks.blkDisk(dir, "p512", 64 * MIB, 512, 2, true),
                GuestStorageChecks.blkDisk(dir, "p4k", 32 * MIB, 4096, 1, false)), dir, true);
        System.out.println("Java target blk guest, packed rings: " + r.wallTime().toMillis() + " ms\n" + r.scriptOutput());
    }

    @Test
    void linuxVirtioScsiDriverOnPackedRings(@TempDir Path dir) throws Exception {
        assumeTrue(JAVA_SCSI != null, SCSI_OFF);
        List<ScsiLun> luns = List.of(
                GuestStorageChecks.scsiLun(dir, "scsi0", 0, 0, 32 * MIB, 512),
                GuestStorageChecks.scsiLun(dir, "scsi0", 1, 0, 16 * MIB, 4096));
        GuestResult r = GuestStorageChecks.checkScsi(JavaTargetFactories::scsiPacked, luns, 2, true, dir, true);
        System.out.println("Java target scsi guest, packed rings: " + r.wallTime().toMillis() + " ms\n" + r.scriptOutput());
    }

    @Test
    void javaScsiTargetWithoutDiscard(@TempDir Path dir) throws Exception {
        assumeTrue(JAVA_SCSI != null, SCSI_OFF);
        GuestStorageChecks.checkScsi(JAVA_SCSI, List.of(GuestStorageChecks.scsiLun(dir, "scsi0", 0, 0, 16 * MIB, 512)), 1, false, dir);
    }
}
