package io.jvirtio.conformance;

import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.store.FileBlockStore;
import io.jvirtio.core.testing.BlkPatterns;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/** The blk initiator suite against the Java target over an image file, checked in the file as the host sees it. */
class JavaTargetFileBlkSuiteTest extends AbstractBlkInitiatorSuite {

    /** {@inheritDoc} The Java target offers VIRTIO_F_RING_PACKED and AUTO takes it. */
    @Override
    protected io.jvirtio.core.RingType expectedRing() {
        return io.jvirtio.core.RingType.PACKED;
    }
    private static final AtomicInteger COUNT = new AtomicInteger();

    @Override
    protected StartedTarget startTarget(Disk disk, Path dir) throws Exception {
        String name = "jf" + COUNT.getAndIncrement();
        Path image = dir.resolve(name + ".img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(disk.sizeBytes());
        }
        VhostUserTarget t = VhostUserTarget.builder().name(name).socket(dir.resolve(name + ".sock"))
                .blk(new FileBlockStore(image, disk.readOnly()), BlkModelOptions.builder().blockSize(disk.blockSize()).numQueues(disk.queues())
                        .discard(disk.discard()).writeZeroes(disk.writeZeroes()).build())
                .start();
        return new StartedTarget() {
            @Override
            public Path socketPath() {
                return t.socketPath();
            }

            @Override
            public byte[] storedBytes(long offset, int length) throws Exception {
                return BlkPatterns.readFile(image, offset, length);
            }

            @Override
            public String serial() {
                return name;
            }

            @Override
            public void close() {
                t.close();
            }
        };
    }
}
