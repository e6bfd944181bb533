package io.jvirtio.core;

import java.util.OptionalInt;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.VirtioStatus;

import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.spec.ring.SplitRingLayout;
import io.jvirtio.core.ring.Virtqueue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static io.jvirtio.spec.VirtioStatus.*;
import static org.junit.jupiter.api.Assertions.*;

/** {@link VirtioDevice}'s state machine, negotiation, queue creation and per-thread ownership, over a fake transport. */
class VirtioDeviceTest {
    private static final long VERSION_1 = VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1);
    private static final long INDIRECT = VirtioFeatures.bit(VirtioFeatures.VIRTIO_RING_F_INDIRECT_DESC);

    /** Records what the driver does; behaves like a device unless told otherwise. */
    static final class FakeOps implements VirtioBackendOps {
        long offered = VERSION_1 | INDIRECT | 0b110;
        long accepted = -1;
        boolean refuseFeaturesOk;
        int maxQueues = 8;
        int queueSize = 256;
        int failSetupOf = -1;
        int status;
        final List<Integer> statuses = new ArrayList<>();
        final List<QueueSetup> setups = new ArrayList<>();
        final List<Integer> deleted = new ArrayList<>();
        final List<Integer> kicks = new ArrayList<>();
        int destructs;

        @Override public String transportType() { return "fake"; }
        @Override public void readDevConfig(long offset, MemorySegment dst) { dst.fill((byte) offset); }
        @Override public void writeDevConfig(long offset, MemorySegment src) { }
        @Override public int getStatus() { return status; }
        @Override public long getFeatures() { return offered; }
        @Override public void setFeatures(long features) { accepted = features; }
        @Override public OptionalInt getMaxQueues() { return OptionalInt.of(maxQueues); }
        @Override public int getQueueSize(int index) { return queueSize; }
        @Override public void notifyQueue(int index) { kicks.add(index); }
        @Override public void destruct() { destructs++; }
        @Override public Map<String, Object> dumpJsonInfo() { return Map.of(); }
        @Override public Map<String, Object> writeJsonConfig() { return Map.of(); }

        @Override
        public void setStatus(int s) {
            statuses.add(s);
            status = refuseFeaturesOk ? s & ~FEATURES_OK : s;
        }

        @Override
        public void setupQueue(QueueSetup queue) {
            setups.add(queue);
            if (queue.index() == failSetupOf) {
                throw new DeviceException("fake: setup of queue " + queue.index() + " refused");
            }
        }

        @Override
        public int deleteQueue(int index) {
            deleted.add(index);
            return -1;
        }
    }

    private final FakeOps ops = new FakeOps();
    private final MemoryDomain memory = MemoryDomain.create("vdev-test", 4 << 20, HugePagePolicy.NEVER);
    private final VirtioDevice dev = new VirtioDevice("dev0", ops, memory);

    @AfterEach
    void tearDown() {
        dev.close();
        memory.close();
    }

    @Test
    void negotiateAndStartFollowTheSpecSequence() {
        long negotiated = dev.negotiate(0b100 | INDIRECT);
        assertEquals(VERSION_1 | INDIRECT | 0b100, negotiated, "offered & (wanted | VERSION_1)");
        assertEquals(negotiated, ops.accepted);
        assertEquals(ops.offered, dev.offeredFeatures());
        dev.start(2, 0, 64, 8);
        int ack = ACKNOWLEDGE;
        int drv = ack | DRIVER;
        int fok = drv | FEATURES_OK;
        assertEquals(List.of(RESET, ack, drv, fok, fok | DRIVER_OK), ops.statuses);
        assertEquals(fok | DRIVER_OK, dev.status());
        assertEquals(2, dev.queueCount());
        assertEquals(List.of(0, 1), ops.setups.stream().map(QueueSetup::index).toList());
        for (QueueSetup q : ops.setups) {
            Virtqueue vq = dev.queue(q.index());
            assertEquals(64, q.size());
            assertEquals(vq.descTableAddress(), q.descAddress());
            assertEquals(vq.driverAreaAddress(), q.availAddress());
            assertEquals(vq.deviceAreaAddress(), q.usedAddress());
            assertTrue(memory.contains(q.descAddress(), SplitRingLayout.totalBytes(64)), "rings live in the device's memory");
            assertEquals(8, vq.maxIndirect());
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(RingType.class)
    void ringTypeDecidesWhetherTheOfferedPackedRingIsTaken(RingType ring) {
        long packedBit = VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_RING_PACKED);
        ops.offered |= packedBit;
        long negotiated = dev.negotiate(INDIRECT, ring);
        boolean packed = ring != RingType.SPLIT;
        assertEquals(packed, (negotiated & packedBit) != 0);
        dev.start(2, 0, 64, 8);
        for (QueueSetup q : ops.setups) {
            Virtqueue vq = dev.queue(q.index());
            assertEquals(packed, q.packed());
            assertEquals(packed, vq instanceof io.jvirtio.core.ring.PackedVirtqueue, vq.toString());
            assertEquals(packed ? 0x8000 : 0, q.availIndex(), "a fresh ring: slot 0, wrap counter 1 for packed");
            assertEquals(vq.driverAreaAddress(), q.availAddress());
            assertEquals(vq.deviceAreaAddress(), q.usedAddress());
        }
    }

    @Test
    void packedRingRequiredButNotOffered() {
        DeviceException e = assertThrows(DeviceException.class, () -> dev.negotiate(INDIRECT, RingType.PACKED));
        assertTrue(e.getMessage().contains("without VIRTIO_F_RING_PACKED (bit 34)"), e.getMessage());
        assertTrue((dev.status() & FAILED) != 0, "the device is marked FAILED");
    }

    @Test
    void queueSizeIsClampedToTheTransport() {
        ops.queueSize = 32;
        dev.negotiate(0);
        dev.start(1, 0, 256, 0);
        assertEquals(32, dev.queue(0).size());
        assertEquals(32, ops.setups.getFirst().size());
    }

    @Test
    void legacyDeviceIsRefusedNamingItsFeatures() {
        ops.offered = 0x1234;
        DeviceException e = assertThrows(DeviceException.class, () -> dev.negotiate(-1L));
        assertTrue(e.getMessage().contains("dev0") && e.getMessage().contains("0x1234") && e.getMessage().contains("VIRTIO_F_VERSION_1"),
                e.getMessage());
        assertFailedSet();
        assertEquals(-1, ops.accepted, "no features were written");
    }

    @Test
    void refusedFeaturesOk() {
        ops.refuseFeaturesOk = true;
        DeviceException e = assertThrows(DeviceException.class, () -> dev.negotiate(0));
        assertTrue(e.getMessage().contains("did not accept features 0x100000000"), e.getMessage());
        assertFailedSet();
        assertThrows(DeviceException.class, () -> dev.start(1, 0, 16, 0), "no start without FEATURES_OK");
    }

    @Test
    void startBeforeNegotiation() {
        DeviceException e = assertThrows(DeviceException.class, () -> dev.start(1, 0, 16, 0));
        assertTrue(e.getMessage().contains("before feature negotiation"), e.getMessage());
        assertTrue(ops.setups.isEmpty());
    }

    @Test
    void moreQueuesThanTheTransportAllows() {
        ops.maxQueues = 2;
        dev.negotiate(0);
        DeviceException e = assertThrows(DeviceException.class, () -> dev.start(3, 0, 16, 0));
        assertTrue(e.getMessage().contains("3 queues requested") && e.getMessage().contains("1..2"), e.getMessage());
        assertFailedSet();
    }

    @Test
    void transportQueueSizeNotAPowerOfTwo() {
        ops.queueSize = 24;
        dev.negotiate(0);
        DeviceException e = assertThrows(DeviceException.class, () -> dev.start(1, 0, 64, 0));
        assertTrue(e.getMessage().contains("queue 0 size 24"), e.getMessage());
        assertEquals(0, dev.queueCount());
    }

    /** Queue 1's setup fails: no queue survives, FAILED is set, and every ring allocated so far is freed. */
    @Test
    void startFailingMidwayLeavesNoQueueAndFreesTheRings() {
        ops.failSetupOf = 1;
        dev.negotiate(INDIRECT);
        DeviceException e = assertThrows(DeviceException.class, () -> dev.start(3, 0, 64, 16));
        assertTrue(e.getMessage().contains("queue 1"), e.getMessage());
        assertEquals(0, dev.queueCount());
        assertFailedSet();
        assertEquals(2, ops.setups.size(), "queue 2 was never set up");
        assertTrue(ops.deleted.contains(0), "queue 0 was deleted on the transport: " + ops.deleted);
        assertTrue(ops.kicks.isEmpty());
        // First-fit allocator: the span from ring 0 to the end of ring 1 is free again only if both were freed
        // (indirect tables in between included).
        long first = ops.setups.get(0).descAddress();
        long span = ops.setups.get(1).descAddress() + SplitRingLayout.totalBytes(64) - first;
        MemorySegment again = memory.allocate(span, 4096);
        assertEquals(first, again.address(), "the rings' memory was freed");
        memory.free(again);
    }

    @Test
    void queuesBelongToOneThreadAtATime() throws Exception {
        dev.negotiate(0);
        dev.start(2, 0, 16, 0);
        Virtqueue mine = dev.acquireQueue(0);
        assertNotNull(mine);
        assertSame(Thread.currentThread(), dev.queueOwner(0));
        assertNull(dev.acquireQueue(0), "the owner cannot take it twice either");
        assertEquals(1, onOtherThread(() -> dev.findAndAcquireQueue(0)).index(), "another thread gets the next free one");
        assertNull(onOtherThread(() -> dev.findAndAcquireQueue(0)), "all taken");
        dev.releaseQueue(mine);
        assertNull(dev.queueOwner(0));
        assertEquals(0, onOtherThread(() -> dev.acquireQueue(0)).index(), "free again after release");
        assertThrows(DeviceException.class, () -> dev.acquireQueue(2));
    }

    @Test
    void kicksGoToTheTransportByQueueIndex() {
        dev.negotiate(0);
        dev.start(2, 0, 16, 0);
        MemorySegment buf = memory.allocate(512, 512);
        Virtqueue vq = dev.queue(1);
        assertTrue(vq.reqStart("r", 1));
        vq.reqAddIov(buf.address(), 512, false);
        vq.reqFlush();
        assertEquals(List.of(1), ops.kicks);
    }

    @Test
    void closeResetsDeletesQueuesAndDestructsOnce() {
        dev.negotiate(0);
        dev.start(2, 0, 16, 0);
        dev.close();
        dev.close();
        assertEquals(RESET, (int) ops.statuses.getLast());
        assertEquals(List.of(0, 1), ops.deleted);
        assertEquals(1, ops.destructs);
        assertEquals(0, dev.queueCount());
    }

    private void assertFailedSet() {
        assertTrue((ops.statuses.getLast() & FAILED) != 0, "FAILED set: " + ops.statuses);
        assertTrue((dev.status() & FAILED) != 0, VirtioStatus.describe(dev.status()));
    }

    private static <T> T onOtherThread(Supplier<T> call) throws Exception {
        return CompletableFuture.supplyAsync(call, r -> Thread.ofPlatform().start(r)).get(10, TimeUnit.SECONDS);
    }
}
