package io.jvirtio.conformance;

import io.jvirtio.conformance.containers.RequiresTargetImage;
import io.jvirtio.conformance.containers.TargetContainer;
import io.jvirtio.conformance.containers.TargetImages;
import io.jvirtio.core.testing.BlkPatterns;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The blk suite against jvirtio's Java target in a container (image {@code docker/java-target}: the
 * built tools jar on a jlink'd JRE), one container per disk over an image file in the shared
 * directory, which the host reads.
 */
@RequiresTargetImage(TargetImages.JAVA_TARGET)
class JavaTargetContainerBlkSuiteTest extends AbstractBlkInitiatorSuite {

    /** {@inheritDoc} The Java target in its container offers VIRTIO_F_RING_PACKED and AUTO takes it. */
    @Override
    protected io.jvirtio.core.RingType expectedRing() {
        return io.jvirtio.core.RingType.PACKED;
    }
    private static final String IMAGE = "disk.img";
    private static final String SOCKET = "blk0";
    private static final String SERIAL = "jvirtio-container";

    @Override
    protected StartedTarget startTarget(Disk disk, Path dir) throws Exception {
        List<String> spec = new ArrayList<>(List.of("file:" + TargetContainer.CONTAINER_DIR + "/" + IMAGE,
                "size=" + disk.sizeBytes(), "bs=" + disk.blockSize(), "queues=" + disk.queues(),
                "discard=" + (disk.discard() ? "on" : "off"), "write-zeroes=" + (disk.writeZeroes() ? "on" : "off"),
                "serial=" + SERIAL));
        if (disk.readOnly()) {
            spec.add("ro");
        }
        TargetContainer c = TargetContainer.javaTarget("--socket", TargetContainer.CONTAINER_DIR + "/" + SOCKET, "--blk",
                String.join(",", spec)).start();
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
                return SERIAL;
            }

            @Override
            public void close() {
                c.close();
            }
        };
    }
}
