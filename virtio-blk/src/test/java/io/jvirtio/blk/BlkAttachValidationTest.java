package io.jvirtio.blk;

import io.jvirtio.core.DeviceException;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.VirtioStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.function.Consumer;

import static io.jvirtio.spec.blk.VirtioBlkSpec.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A device whose features or config make no sense is refused at attach with an error naming the field and the
 * value, and nothing is left half-attached: the transport is destructed, the device reset, owned memory closed.
 */
class BlkAttachValidationTest {

    @ParameterizedTest(name = "blk_size {0}")
    @ValueSource(ints = {0, 100, 513, 1 << 17})
    void absurdBlockSize(int blkSize) {
        assertRefused(sim -> sim.blkSize(blkSize), "virtio_blk_config.blk_size = " + blkSize);
    }

    @Test
    void zeroQueues() {
        assertRefused(sim -> sim.numQueues(0), "virtio_blk_config.num_queues = 0");
    }

    @Test
    void sizeMaxBelowASector() {
        assertRefused(sim -> sim.sizeMax(100), "virtio_blk_config.size_max = 100");
    }

    @Test
    void discardWithoutAnyRoom() {
        assertRefused(sim -> sim.discard(0, 1), "virtio_blk_config.max_discard_sectors = 0");
        assertRefused(sim -> sim.discard(8, 0), "virtio_blk_config.max_discard_seg = 0");
    }

    @Test
    void writeZeroesWithoutAnyRoom() {
        assertRefused(sim -> sim.writeZeroes(0, 1), "virtio_blk_config.max_write_zeroes_sectors = 0");
        assertRefused(sim -> sim.writeZeroes(8, 0), "virtio_blk_config.max_write_zeroes_seg = 0");
    }

    @Test
    void legacyDevice() {
        SimulatedBlkBackend sim = assertRefused(s -> s.withdraw(VirtioFeatures.VIRTIO_F_VERSION_1), "without VIRTIO_F_VERSION_1");
        assertTrue(sim.statusHistory().stream().anyMatch(s -> (s & VirtioStatus.FAILED) != 0), "FAILED was set: " + sim.statusHistory());
    }

    @Test
    void featuresOkRefused() {
        assertRefused(SimulatedBlkBackend::refuseFeaturesOk, "did not accept features");
    }

    @Test
    void moreQueuesThanTheDeviceHas() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().numQueues(2);
        DeviceException e = assertThrows(DeviceException.class, () -> sim.attach(SimulatedBlkBackend.options().withRequestQueues(4)));
        assertTrue(e.getMessage().contains("4 request queues requested") && e.getMessage().contains("num_queues 2"), e.getMessage());
        assertFalse(e.getMessage().contains("transport limit"), "the transport reports no queue count: " + e.getMessage());
        assertNothingLeft(sim);
    }

    @Test
    void moreQueuesThanTheTransportCarries() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().numQueues(4).transportMaxQueues(2);
        DeviceException e = assertThrows(DeviceException.class, () -> sim.attach(SimulatedBlkBackend.options().withRequestQueues(3)));
        assertTrue(e.getMessage().contains("the device has 2") && e.getMessage().contains("transport limit 2"), e.getMessage());
        assertNothingLeft(sim);
    }

    /** Only bits the driver understands are accepted; status ends at DRIVER_OK after the spec's sequence. */
    @Test
    void negotiatesOnlyKnownFeaturesInTheSpecSequence() {
        SimulatedBlkBackend sim = new SimulatedBlkBackend().offer(VIRTIO_BLK_F_GEOMETRY).offer(VIRTIO_BLK_F_CONFIG_WCE).indirect();
        try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options())) {
            long f = sim.driverFeatures();
            assertFalse(VirtioFeatures.has(f, VIRTIO_BLK_F_GEOMETRY));
            assertFalse(VirtioFeatures.has(f, VIRTIO_BLK_F_CONFIG_WCE));
            assertTrue(VirtioFeatures.has(f, VirtioFeatures.VIRTIO_F_VERSION_1));
            assertTrue(VirtioFeatures.has(f, VirtioFeatures.VIRTIO_RING_F_INDIRECT_DESC));
            assertTrue(VirtioFeatures.has(f, VIRTIO_BLK_F_FLUSH));
            int ack = VirtioStatus.ACKNOWLEDGE;
            int drv = ack | VirtioStatus.DRIVER;
            int fok = drv | VirtioStatus.FEATURES_OK;
            assertEquals(java.util.List.of(0, ack, drv, fok, fok | VirtioStatus.DRIVER_OK), sim.statusHistory());
            assertEquals(1, sim.activeQueues());
        }
        assertTrue(sim.destructed(), "close destructs the transport");
        assertEquals(0, sim.statusHistory().getLast(), "close resets the device");
    }

    private static SimulatedBlkBackend assertRefused(Consumer<SimulatedBlkBackend> lie, String expected) {
        SimulatedBlkBackend sim = new SimulatedBlkBackend();
        lie.accept(sim);
        DeviceException e = assertThrows(DeviceException.class, () -> sim.attach(SimulatedBlkBackend.options()));
        assertTrue(e.getMessage().contains(expected) && e.getMessage().contains("sim0"), e.getMessage());
        assertNothingLeft(sim);
        return sim;
    }

    private static void assertNothingLeft(SimulatedBlkBackend sim) {
        assertTrue(sim.destructed(), "the transport was destructed");
        assertEquals(VirtioStatus.RESET, sim.status(), "the device was reset: " + sim.statusHistory());
        assertEquals(0, sim.activeQueues(), "no queue left running");
        assertTrue(sim.memory().regions().isEmpty(), "the owned memory domain was closed");
        assertThrows(VirtioException.class, () -> sim.memory().allocate(4096, 4096));
    }
}
