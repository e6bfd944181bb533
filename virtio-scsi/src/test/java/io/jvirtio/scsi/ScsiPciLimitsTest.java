package io.jvirtio.scsi;

import io.jvirtio.bdev.SyncIo;
import io.jvirtio.core.ReconnectPolicy;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Map;

import static io.jvirtio.scsi.ScsiTestSupport.assertSameBytes;
import static io.jvirtio.scsi.ScsiTestSupport.fill;
import static io.jvirtio.spec.scsi.VirtioScsiSpec.CFG_NUM_QUEUES;
import static org.junit.jupiter.api.Assertions.*;

/**
 * What a device behind the virtio-pci transport looks like to the driver: the transport reports all its queues
 * (control, event and {@code num_queues} request queues), the largest queue is the device's (QEMU: 256) and the
 * transport never reports a lost peer. Simulated here (the real transport runs in the Linux-guest tests).
 */
class ScsiPciLimitsTest {
    private static final int PCI_QUEUE_MAX = 256;

    private static SimulatedScsiBackend pciLike(int numQueues) {
        SimulatedScsiBackend sim = new SimulatedScsiBackend().config(CFG_NUM_QUEUES, numQueues).maxQueueSize(PCI_QUEUE_MAX);
        sim.addLun(0, 0, 512, 2048);
        return sim;
    }

    /** SPDK's vq_size 512 and one request queue, as the json-config and the Java API default to. */
    private static VirtioScsiOptions defaults() {
        return ScsiTestSupport.testOptions().withQueueSize(VirtioScsiOptions.DEFAULT_QUEUE_SIZE);
    }

    @Test
    void theDefaultsAttachToOneRequestQueueOfTheDevicesSize() {
        try (VirtioScsiController c = pciLike(1).attach(defaults())) {
            assertEquals(1, c.ioQueueCount());
            assertFalse(c.hasDedicatedScanQueue(), "num_queues 1: none to spare");
            Map<?, ?> virtio = (Map<?, ?>) c.driverSpecificInfo().get("virtio");
            assertEquals(3, virtio.get("vq_count"), "control, event, one request queue");
            assertEquals(PCI_QUEUE_MAX, virtio.get("vq_size"));
        }
        try (VirtioScsiController c = pciLike(2).attach(defaults())) {
            assertEquals(1, c.ioQueueCount());
            assertTrue(c.hasDedicatedScanQueue(), "num_queues 2: the second scans");
        }
    }

    @Test
    void deviceQueuesTakeEveryRequestQueueAndSpareNoneForScans() {
        try (VirtioScsiController c = pciLike(2).attachWithDeviceQueues(defaults())) {
            assertEquals(2, c.ioQueueCount());
            assertEquals(2, c.options().requestQueues());
            assertFalse(c.hasDedicatedScanQueue());
            assertEquals(4, ((Map<?, ?>) c.driverSpecificInfo().get("virtio")).get("vq_count"), "SPDK's max_queues");
        }
    }

    @Test
    void aReconnectPolicyNeverActsOnATransportThatCannotLoseItsPeer() {
        SimulatedScsiBackend sim = pciLike(1);
        ReconnectPolicy policy = new ReconnectPolicy(30, 1, 5);
        try (VirtioScsiController c = sim.attach(defaults().withReconnect(policy))) {
            assertEquals(policy, c.device().reconnectPolicy());
            VirtioScsiDisk d = c.bdevs().getFirst();
            try (VirtioScsiChannel ch = d.openChannel()) {
                MemorySegment buf = d.allocateBuffer(4096, 4096);
                fill(buf, 3);
                new SyncIo(ch).write(buf, 512);
                assertSameBytes(buf, MemorySegment.ofArray(sim.lun(0, 0).data).asSlice(512, 4096), "on the sim");
            }
            assertNull(c.device().transportLost());
            assertFalse(c.device().refusesIo());
            assertTrue(Thread.getAllStackTraces().keySet().stream().noneMatch(t -> t.getName().startsWith("jvirtio-reconnect-")),
                    "no reconnector runs");
        }
        assertTrue(sim.destructed());
    }
}
