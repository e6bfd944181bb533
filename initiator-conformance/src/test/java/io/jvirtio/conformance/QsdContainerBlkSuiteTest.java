package io.jvirtio.conformance;

import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.conformance.containers.RequiresTargetImage;
import io.jvirtio.conformance.containers.TargetContainer;
import io.jvirtio.conformance.containers.TargetImages;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.testing.BlkPatterns;

import java.nio.file.Path;

/**
 * The blk suite against qemu-storage-daemon in a container (image {@code docker/qemu-storage-daemon}),
 * one container per disk, exporting an image file in the shared directory: the host reads the file.
 */
@RequiresTargetImage(TargetImages.QEMU_STORAGE_DAEMON)
class QsdContainerBlkSuiteTest extends AbstractBlkInitiatorSuite {

    /** {@inheritDoc} Libvhost-user (qemu-storage-daemon 7.2) has no packed ring. */
    @Override
    protected io.jvirtio.core.RingType expectedRing() {
        return io.jvirtio.core.RingType.SPLIT;
    }
    private static final String IMAGE = "disk.img";
    private static final String SOCKET = "vhost.blk0";
    /** The daemon's vhost-user-blk export answers GET_ID with this fixed serial. */
    private static final String QSD_SERIAL = "vhost_user_blk";

    @Override
    protected VirtioBlkOptions initiatorOptions(int queues) {
        return super.initiatorOptions(queues).withHugePages(HugePagePolicy.AUTO);
    }

    @Override
    protected StartedTarget startTarget(Disk disk, Path dir) throws Exception {
        assumeSupported(disk.discard() && disk.writeZeroes(), "qemu-storage-daemon always offers discard and write-zeroes");
        String dirIn = TargetContainer.CONTAINER_DIR + "/";
        TargetContainer c = disk.readOnly()
                ? TargetContainer.qemuStorageDaemon("--file", dirIn + IMAGE, "--size", Long.toString(disk.sizeBytes()),
                        "--socket", dirIn + SOCKET, "--num-queues", Integer.toString(disk.queues()),
                        "--logical-block-size", Integer.toString(disk.blockSize()), "--read-only")
                : TargetContainer.qemuStorageDaemon("--file", dirIn + IMAGE, "--size", Long.toString(disk.sizeBytes()),
                        "--socket", dirIn + SOCKET, "--num-queues", Integer.toString(disk.queues()),
                        "--logical-block-size", Integer.toString(disk.blockSize()));
        c.start();
        return new StartedTarget() {
            @Override
            public Path socketPath() {
                return c.socket(SOCKET);
            }

            @Override
            public byte[] storedBytes(long offset, int length) throws Exception {
                return BlkPatterns.readFile(c.socket(IMAGE), offset, length);
            }

            @Override
            public String serial() {
                return QSD_SERIAL;
            }

            @Override
            public void close() {
                c.close();
            }
        };
    }

    /** Not a case for qemu-storage-daemon: its export always offers discard and write-zeroes. */
    @Override
    void withoutDiscardAndWriteZeroesTheyAreNotOffered() {
    }
}
