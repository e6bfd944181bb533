package io.jvirtio.conformance;

import io.jvirtio.bdev.SyncIo;
import io.jvirtio.blk.VirtioBlkChannel;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.conformance.containers.RequiresTargetImage;
import io.jvirtio.conformance.containers.TargetContainer;
import io.jvirtio.conformance.containers.TargetImages;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.spec.VirtioFeatures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.lang.foreign.MemorySegment;

import static io.jvirtio.core.testing.BlkPatterns.assertSameBytes;
import static io.jvirtio.core.testing.BlkPatterns.bytes;
import static io.jvirtio.core.testing.BlkPatterns.fill;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A vhost-blk controller made with {@code --packed-ring}: SPDK offers VIRTIO_F_RING_PACKED. jvirtio
 * drives split rings only (the packed ring is an issue of its own), so it must leave the bit out of
 * what it accepts, and SPDK must then run the queues as split rings: I/O is correct.
 */
@RequiresTargetImage(TargetImages.SPDK)
class SpdkPackedRingBlkTest {
    @RegisterExtension
    static final TargetContainer SPDK = TargetContainer.spdk("""
            [{"method": "bdev_malloc_create", "params": {"name": "MallocPacked", "num_blocks": 16384, "block_size": 512}},
             {"method": "vhost_create_blk_controller", "params": {"ctrlr": "vhost.packed", "dev_name": "MallocPacked", "packed_ring": true}}]
            """);

    @Test
    void packedRingOfferedAndSplitRingUsed() {
        VirtioBlkOptions options = VirtioBlkOptions.defaults().withRequestQueues(1).withQueueSize(128).withMemoryBytes(16L << 20)
                .withHugePages(HugePagePolicy.REQUIRE);
        try (VirtioBlkDevice blk = VirtioBlkDevice.connectVhostUser("packed0", SPDK.socket("vhost.packed"), options);
             VirtioBlkChannel ch = blk.openChannel()) {
            long packed = VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_RING_PACKED);
            assertEquals(packed, blk.device().offeredFeatures() & packed, "SPDK offers VIRTIO_F_RING_PACKED for a --packed-ring controller");
            assertEquals(0, blk.device().negotiatedFeatures() & packed, "jvirtio does not accept the packed ring");
            assertTrue((blk.device().negotiatedFeatures() & VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1)) != 0);
            SyncIo io = new SyncIo(ch);
            MemorySegment w = blk.allocateBuffer(65536, 4096);
            MemorySegment r = blk.allocateBuffer(65536, 4096);
            fill(w, 34);
            io.write(w, 1 << 20);
            io.read(r, 1 << 20);
            assertSameBytes(bytes(w), bytes(r), "read back over split rings on a packed-ring controller");
        }
    }
}
