package io.jvirtio.blk;

import io.jvirtio.bdev.SyncIo;
import io.jvirtio.core.ReconnectPolicy;
import io.jvirtio.core.mem.HugePagePolicy;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Map;

import static io.jvirtio.core.testing.BlkPatterns.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * What a device behind the virtio-pci transport looks like to the driver: the transport reports all its queues
 * ({@code num_queues} of the common config), the largest queue is the device's (QEMU: 256), and the transport never
 * reports a lost peer. Simulated here (the real transport runs in the Linux-guest tests): the defaults attach, the
 * device-queue attach takes every queue, and a reconnect policy is inert.
 */
class BlkPciLimitsTest {
    /** QEMU's virtio-blk-pci queue size. */
    private static final int PCI_QUEUE_MAX = 256;

    private static SimulatedBlkBackend pciLike(int numQueues) {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().maxQueueSize(PCI_QUEUE_MAX).transportMaxQueues(numQueues);
        return numQueues > 1 ? sim.numQueues(numQueues) : sim;
    }

    private static VirtioBlkOptions defaults() {
        return VirtioBlkOptions.defaults().withHugePages(HugePagePolicy.NEVER).withMemoryBytes(16L << 20);
    }

    @Test
    void theDefaultsAttachToOneQueueOfTheDevicesSize() {
        for (int numQueues : new int[]{1, 2}) {
            SimulatedBlkBackend sim = pciLike(numQueues);
            try (VirtioBlkDevice blk = sim.attach(defaults());
                 VirtioBlkChannel ch = blk.openChannel()) {
                assertEquals(1, blk.maxChannels(), "num_queues " + numQueues);
                assertEquals(PCI_QUEUE_MAX, blk.device().queue(0).size(), "512 asked, the device's 256 taken");
                roundTrip(blk, ch, sim);
                Map<?, ?> virtio = (Map<?, ?>) blk.driverSpecificInfo().get("virtio");
                assertEquals(1, virtio.get("vq_count"));
                assertEquals(PCI_QUEUE_MAX, virtio.get("vq_size"));
            }
        }
    }

    @Test
    void deviceQueuesTakeEveryQueueTheDeviceHas() {
        SimulatedBlkBackend sim = pciLike(2);
        try (VirtioBlkDevice blk = sim.attachWithDeviceQueues(defaults())) {
            assertEquals(2, blk.maxChannels());
            assertEquals(2, blk.options().requestQueues(), "the options say what was used");
            assertEquals(2, ((Map<?, ?>) blk.driverSpecificInfo().get("virtio")).get("vq_count"));
        }
        // without VIRTIO_BLK_F_MQ num_queues is 1, whatever the transport counts
        SimulatedBlkBackend noMq = new SimulatedBlkBackend().maxQueueSize(PCI_QUEUE_MAX).transportMaxQueues(4);
        try (VirtioBlkDevice blk = noMq.attachWithDeviceQueues(defaults().withRequestQueues(3))) {
            assertEquals(1, blk.maxChannels());
        }
    }

    @Test
    void aReconnectPolicyNeverActsOnATransportThatCannotLoseItsPeer() {
        SimulatedBlkBackend sim = pciLike(1);
        ReconnectPolicy policy = new ReconnectPolicy(30, 1, 5);
        try (VirtioBlkDevice blk = sim.attach(defaults().withReconnect(policy));
             VirtioBlkChannel ch = blk.openChannel()) {
            assertEquals(policy, blk.device().reconnectPolicy());
            roundTrip(blk, ch, sim);
            assertNull(blk.device().transportLost());
            assertFalse(blk.device().refusesIo());
            assertTrue(Thread.getAllStackTraces().keySet().stream().noneMatch(t -> t.getName().startsWith("jvirtio-reconnect-")),
                    "no reconnector runs");
        }
        assertTrue(sim.destructed(), "closed as without a policy");
    }

    private static void roundTrip(VirtioBlkDevice blk, VirtioBlkChannel ch, SimulatedBlkBackend sim) {
        SyncIo io = Completions.sync(ch);
        MemorySegment out = blk.allocateBuffer(8192, 4096);
        MemorySegment in = blk.allocateBuffer(8192, 4096);
        fill(out, 42);
        io.write(out, 4096);
        io.read(in, 4096);
        assertSameBytes(bytes(out), bytes(in), "read back");
        assertSameBytes(bytes(out), sim.diskBytes(4096, 8192), "on the disk");
    }
}
