package io.jvirtio.conformance;

import io.jvirtio.bdev.SyncIo;
import io.jvirtio.blk.VirtioBlkChannel;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.conformance.containers.RequiresTargetImage;
import io.jvirtio.conformance.containers.TargetContainer;
import io.jvirtio.conformance.containers.TargetImages;
import io.jvirtio.core.RingType;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.spec.VirtioFeatures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.lang.foreign.MemorySegment;

import static io.jvirtio.core.testing.BlkPatterns.assertSameBytes;
import static io.jvirtio.core.testing.BlkPatterns.bytes;
import static io.jvirtio.core.testing.BlkPatterns.fill;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A vhost-blk controller made with {@code packed_ring} (SPDK's {@code vhost_create_blk_controller
 * --packed-ring}): SPDK offers VIRTIO_F_RING_PACKED. With the default ring choice ({@link RingType#AUTO})
 * jvirtio takes it and drives packed rings; with {@link RingType#SPLIT} it leaves the bit out and SPDK
 * runs the queues as split rings. I/O is correct, byte for byte, either way.
 */
@RequiresTargetImage(TargetImages.SPDK)
class SpdkPackedRingBlkTest {
    @RegisterExtension
    static final TargetContainer SPDK = TargetContainer.spdk("""
            [{"method": "bdev_malloc_create", "params": {"name": "MallocPacked", "num_blocks": 16384, "block_size": 512}},
             {"method": "vhost_create_blk_controller", "params": {"ctrlr": "vhost.packed", "dev_name": "MallocPacked", "packed_ring": true}}]
            """);

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = RingType.class, names = {"AUTO", "SPLIT"})
    void packedRingOfferedAndTheRingAskedForUsed(RingType ring) {
        VirtioBlkOptions options = VirtioBlkOptions.defaults().withRequestQueues(1).withQueueSize(128).withMemoryBytes(16L << 20)
                .withHugePages(HugePagePolicy.REQUIRE).withRingType(ring);
        try (VirtioBlkDevice blk = VirtioBlkDevice.connectVhostUser("packed0", SPDK.socket("vhost.packed"), options);
             VirtioBlkChannel ch = blk.openChannel()) {
            long packed = VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_RING_PACKED);
            assertEquals(packed, blk.device().offeredFeatures() & packed, "SPDK offers VIRTIO_F_RING_PACKED for a packed_ring controller");
            assertEquals(ring == RingType.AUTO ? packed : 0, blk.device().negotiatedFeatures() & packed,
                    "AUTO takes the packed ring, SPLIT leaves it");
            assertTrue((blk.device().negotiatedFeatures() & VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1)) != 0);
            SyncIo io = new SyncIo(ch);
            MemorySegment w = blk.allocateBuffer(65536, 4096);
            MemorySegment r = blk.allocateBuffer(65536, 4096);
            for (int i = 0; i < 64; i++) { // more requests than the ring has slots: the wrap counters flip
                fill(w, 34 + i);
                io.write(w, (1 << 20) + (long) i * 65536);
                io.read(r, (1 << 20) + (long) i * 65536);
                assertSameBytes(bytes(w), bytes(r), ring + " ring, request " + i);
            }
        }
    }
}
