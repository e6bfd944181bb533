package io.jvirtio.conformance;

import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.testing.RequiresQemuStorageDaemon;
import io.jvirtio.core.testing.BlkPatterns;
import io.jvirtio.testkit.QemuStorageDaemon;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The same blk initiator suite against qemu-storage-daemon exporting an image file: the reference
 * peer. Cases it cannot be shaped for (discard switched off) are skipped.
 */
@RequiresQemuStorageDaemon
class QemuStorageDaemonBlkSuiteTest extends AbstractBlkInitiatorSuite {

    /** {@inheritDoc} Libvhost-user (qemu-storage-daemon 7.2) has no packed ring. */
    @Override
    protected io.jvirtio.core.RingType expectedRing() {
        return io.jvirtio.core.RingType.SPLIT;
    }
    private static final AtomicInteger COUNT = new AtomicInteger();

    /**
     * The daemon's vhost-user-blk export answers GET_ID with this fixed serial, whatever the
     * export's node name.
     */
    private static final String QSD_SERIAL = "vhost_user_blk";

    /**
     * Hugepage-backed front-end memory when the machine has some, as the default options give a
     * user: the daemon maps the hugetlbfs fds (the Java file-store run covers plain memfd).
     */
    @Override
    protected VirtioBlkOptions initiatorOptions(int queues) {
        return super.initiatorOptions(queues).withHugePages(HugePagePolicy.AUTO);
    }

    @Override
    protected StartedTarget startTarget(Disk disk, Path dir) throws Exception {
        assumeSupported(disk.discard() && disk.writeZeroes(), "qemu-storage-daemon always offers discard and write-zeroes");
        Path image = dir.resolve("qsd" + COUNT.getAndIncrement() + ".img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(disk.sizeBytes());
        }
        QemuStorageDaemon qsd = QemuStorageDaemon.file(image).numQueues(disk.queues()).writable(!disk.readOnly())
                .logicalBlockSize(disk.blockSize()).start();
        return new StartedTarget() {
            @Override
            public Path socketPath() {
                return qsd.socketPath();
            }

            @Override
            public byte[] storedBytes(long offset, int length) throws Exception {
                return BlkPatterns.readFile(image, offset, length);
            }

            @Override
            public String serial() {
                return QSD_SERIAL;
            }

            @Override
            public void close() {
                qsd.close();
            }
        };
    }

    /**
     * Not a case for qemu-storage-daemon: its vhost-user-blk export always offers discard and
     * write-zeroes. Overridden without {@code @Test}, so it does not run here at all (rather than
     * being reported as a skip); the Java target subclasses run it.
     */
    @Override
    void withoutDiscardAndWriteZeroesTheyAreNotOffered() {
    }
}
