package io.jvirtio.backend.guest;

import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.guest.GuestTargets.Attached;
import io.jvirtio.backend.guest.GuestTargets.BlkDisk;
import io.jvirtio.backend.guest.GuestTargets.ScsiLun;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import io.jvirtio.backend.scsi.VirtioScsiModel;
import io.jvirtio.backend.store.FileBlockStore;

import java.nio.file.Path;
import java.util.List;

/**
 * The Java target ({@code io.jvirtio.backend}) as a peer of the guest checks: the only place that
 * knows the target's API, so that {@link JavaTargetGuestTest} stays one line from switching a
 * device kind on or off. Each serves in server mode on {@code workDir/<id>.sock}, backed by the
 * check's image file through {@link FileBlockStore}, and QEMU connects to it.
 */
final class JavaTargetFactories {
    private JavaTargetFactories() {
    }

    /** A {@link GuestTargets.BlkTargetFactory}: a virtio-blk device with the disk's block size, queues and discard. */
    static Attached blk(String id, BlkDisk disk, Path workDir) {
        return blk(id, disk, workDir, "");
    }

    /** {@link #blk} attached with {@code packed=on}: QEMU offers the guest the packed ring the target offers. */
    static Attached blkPacked(String id, BlkDisk disk, Path workDir) {
        return blk(id, disk, workDir, "packed=on");
    }

    private static Attached blk(String id, BlkDisk disk, Path workDir, String props) {
        Path socket = workDir.resolve(id + ".sock");
        VhostUserTarget target = VhostUserTarget.builder().name(id).socket(socket)
                .blk(new FileBlockStore(disk.image(), false), BlkModelOptions.builder()
                        .blockSize(disk.logicalBlockSize())
                        .numQueues(disk.numQueues())
                        .discard(disk.discard())
                        .writeZeroes(disk.discard())
                        .build())
                .start();
        return Attached.of(target, g -> g.vhostUserBlk(id, socket, disk.numQueues(), props));
    }

    /** A {@link GuestTargets.ScsiTargetFactory}: one virtio-scsi device with every LUN; UNMAP when {@code discard}. */
    static Attached scsi(String id, List<ScsiLun> luns, int numQueues, boolean discard, Path workDir) {
        return scsi(id, luns, numQueues, discard, workDir, "");
    }

    /** {@link #scsi} attached with {@code packed=on}. */
    static Attached scsiPacked(String id, List<ScsiLun> luns, int numQueues, boolean discard, Path workDir) {
        return scsi(id, luns, numQueues, discard, workDir, "packed=on");
    }

    private static Attached scsi(String id, List<ScsiLun> luns, int numQueues, boolean discard, Path workDir, String props) {
        Path socket = workDir.resolve(id + ".sock");
        VirtioScsiModel model = new VirtioScsiModel(ScsiModelOptions.builder().name(id).requestQueues(numQueues).build());
        VhostUserTarget.Builder b = VhostUserTarget.builder().name(id).socket(socket).model(model);
        for (ScsiLun l : luns) {
            FileBlockStore store = new FileBlockStore(l.image(), false);
            b.closeOnExit(store);
            model.addLun(l.target(), l.lun(), io.jvirtio.backend.scsi.ScsiLun.builder(store)
                    .blockSize(l.logicalBlockSize())
                    .thinProvisioning(discard)
                    .build());
        }
        VhostUserTarget target = b.start();
        return Attached.of(target, g -> g.vhostUserScsi(id, socket, numQueues, props));
    }
}
