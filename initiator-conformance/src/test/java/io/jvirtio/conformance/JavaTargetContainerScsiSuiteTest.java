package io.jvirtio.conformance;

import io.jvirtio.conformance.containers.RequiresTargetImage;
import io.jvirtio.conformance.containers.TargetContainer;
import io.jvirtio.conformance.containers.TargetImages;
import io.jvirtio.core.testing.BlkPatterns;

import java.nio.file.Path;
import java.util.Optional;

/**
 * The scsi suite against jvirtio's Java target in a container (image {@code docker/java-target}),
 * started with {@code --scsi file:...}: one image file per target in the shared directory, which
 * the target creates (as root) and the host reads. The command line gives no way to add or remove
 * LUNs once started, so the hot-plug case is skipped here (it runs in-process in
 * {@code JavaTargetScsiSuiteTest}).
 */
@RequiresTargetImage(TargetImages.JAVA_TARGET)
class JavaTargetContainerScsiSuiteTest extends AbstractScsiInitiatorSuite {

    /** {@inheritDoc} The Java target in its container offers VIRTIO_F_RING_PACKED and AUTO takes it. */
    @Override
    protected io.jvirtio.core.RingType expectedRing() {
        return io.jvirtio.core.RingType.PACKED;
    }
    private static final String SOCKET = "scsi0";
    /** One request queue per suite thread and one for the initiator's dedicated scan queue. */
    private static final int TARGET_QUEUES = THREADS + 1;

    @Override
    protected StartedScsiTarget startTarget(Path dir) throws Exception {
        // bs=512/4096 is taken LUN after LUN: target 0 gets 512, target 1 gets 4096
        String spec = "file:" + TargetContainer.CONTAINER_DIR + "/lun%t.img,size=" + (DISK_BYTES >> 20) + "M,targets=2,bs=512/4096,queues="
                + TARGET_QUEUES;
        TargetContainer c = TargetContainer.javaTarget("--socket", TargetContainer.CONTAINER_DIR + "/" + SOCKET, "--scsi", spec).start();
        return new StartedScsiTarget() {
            @Override
            public Path socketPath() {
                return c.socket(SOCKET);
            }

            @Override
            public Optional<byte[]> storedBytes(int target, long offset, int length) throws Exception {
                return Optional.of(BlkPatterns.readFile(c.directory().resolve("lun" + target + ".img"), offset, length));
            }

            @Override
            public boolean canHotplug() {
                return false;
            }

            @Override
            public void addTarget(int target, int blockSize, long blocks) {
                throw new UnsupportedOperationException("jvirtio target --scsi cannot add a target at run time");
            }

            @Override
            public void removeTarget(int target) {
                throw new UnsupportedOperationException("jvirtio target --scsi cannot remove a target at run time");
            }

            @Override
            public void close() {
                c.close();
            }
        };
    }
}
