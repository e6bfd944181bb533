package io.jvirtio.conformance;

import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.conformance.containers.SpdkBlkControllers;
import io.jvirtio.conformance.containers.TargetContainer;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.testing.BlkPatterns;

import java.nio.file.Path;

/**
 * The blk initiator suite against SPDK's vhost target in a container: each disk is a bdev and a
 * vhost-blk controller made through SPDK's RPC in one container per class.
 *
 * <p>SPDK's own limits, not jvirtio's, shape two cases: its config space always shows 256 queues,
 * and its malloc and AIO bdevs always offer unmap and write-zeroes, so the case for a disk without
 * them does not run here (overridden without {@code @Test}, as for qemu-storage-daemon).
 */
abstract class AbstractSpdkBlkSuite extends AbstractBlkInitiatorSuite {

    /** {@inheritDoc} The suite's SPDK controllers are made without packed_ring (SpdkPackedRingBlkTest makes one with it). */
    @Override
    protected io.jvirtio.core.RingType expectedRing() {
        return io.jvirtio.core.RingType.SPLIT;
    }
    /** @return the class's SPDK container */
    protected abstract TargetContainer spdk();

    /** @return the bdev kind the controllers sit on */
    protected abstract SpdkBlkControllers.Store store();

    /** SPDK's target maps only hugepage-backed front-end memory safely (docs/decisions.md). */
    @Override
    protected VirtioBlkOptions initiatorOptions(int queues) {
        return super.initiatorOptions(queues).withHugePages(HugePagePolicy.REQUIRE);
    }

    @Override
    protected int expectedConfigQueues(int queues) {
        return SpdkBlkControllers.SPDK_CONFIG_NUM_QUEUES;
    }

    @Override
    protected StartedTarget startTarget(Disk disk, Path dir) throws Exception {
        SpdkBlkControllers.Controller c = new SpdkBlkControllers(spdk(), store()).create(disk.sizeBytes(), disk.blockSize(), disk.readOnly());
        return new StartedTarget() {
            @Override
            public Path socketPath() {
                return c.socket();
            }

            @Override
            public boolean storeVisible() {
                return c.image() != null;
            }

            @Override
            public byte[] storedBytes(long offset, int length) throws Exception {
                return BlkPatterns.readFile(c.image(), offset, length);
            }

            @Override
            public String serial() {
                return c.serial();
            }

            @Override
            public void close() {
                c.close();
            }
        };
    }

    /** Not a case for SPDK: its malloc and AIO bdevs always offer unmap and write-zeroes. */
    @Override
    void withoutDiscardAndWriteZeroesTheyAreNotOffered() {
    }
}
