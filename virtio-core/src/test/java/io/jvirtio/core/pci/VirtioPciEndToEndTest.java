package io.jvirtio.core.pci;

import io.jvirtio.core.DeviceException;
import io.jvirtio.core.VirtioDevice;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.ring.SimulatedDevice;
import io.jvirtio.core.ring.Virtqueue;
import io.jvirtio.core.ring.UsedSink;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.VirtioStatus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static io.jvirtio.spec.VirtioFeatures.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * {@link VirtioDevice} over {@link VirtioPciTransport} over the register-file function, with
 * {@link SimulatedDevice} as the device side of the ring the driver set up through the PCI
 * registers: negotiation, queue setup, a request kicked through the notify BAR and completed.
 */
class VirtioPciEndToEndTest {
    private final MemoryDomain memory = MemoryDomain.create("pci-e2e", 4 << 20, HugePagePolicy.NEVER);
    private final FakeVirtioPciFunction f = FakeVirtioPciFunction.fixture("0000:00:05.0");

    @AfterEach
    void closeMemory() {
        memory.close();
    }

    private VirtioDevice device() {
        return new VirtioDevice("pci-e2e", VirtioPciTransport.open(f, new VirtioPciOptions(Duration.ofMillis(100), 10)), memory);
    }

    @Test
    void negotiateStartRequestClose() {
        VirtioDevice dev = device();
        long wanted = bit(VIRTIO_RING_F_INDIRECT_DESC) | bit(VIRTIO_RING_F_EVENT_IDX) | 0x40 /* BLK_SIZE */;
        long negotiated = dev.negotiate(wanted);
        assertEquals(bit(VIRTIO_F_VERSION_1) | wanted, negotiated, "ACCESS_PLATFORM is the transport's, not the driver's");
        assertEquals(negotiated | bit(VIRTIO_F_ACCESS_PLATFORM), f.driverFeatures, "but the device got it");
        assertEquals(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER | VirtioStatus.FEATURES_OK, f.status);

        dev.start(1, 0, 128, 8);
        assertEquals(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER | VirtioStatus.FEATURES_OK | VirtioStatus.DRIVER_OK, f.status);
        Virtqueue vq = dev.queue(0);
        assertEquals(128, f.queueSize[0]);
        assertEquals(vq.descTableAddress(), f.queueDesc[0]);
        assertEquals(vq.driverAreaAddress(), f.queueAvail[0]);
        assertEquals(vq.deviceAreaAddress(), f.queueUsed[0]);
        assertEquals(1, f.queueEnable[0]);

        // the device side reads the ring at the addresses the driver wrote into the queue registers
        SimulatedDevice sim = new SimulatedDevice(f.queueSize[0], f.queueDesc[0], f.queueAvail[0], f.queueUsed[0], true);
        sim.handler(SimulatedDevice.echo());
        f.onNotify = q -> sim.process();

        assertSame(vq, dev.acquireQueue(0));
        MemorySegment in = memory.allocate(512, 512);
        MemorySegment out = memory.allocate(512, 512);
        for (int i = 0; i < 512; i++) {
            in.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 7));
        }
        assertTrue(vq.reqStart("r1", 2));
        vq.reqAddIov(in.address(), 512, false);
        vq.reqAddIov(out.address(), 512, true);
        vq.reqFlush();
        assertEquals(1, f.notifies.size(), "kicked through the notify BAR");
        assertArrayEquals(new long[] {FakeVirtioPciFunction.NOTIFY, 0}, f.notifies.getFirst());
        List<Object> done = new ArrayList<>();
        assertEquals(1, vq.poll(8, new UsedSink() {
            @Override
            public void onUsed(Object cookie, int len) {
                done.add(cookie);
                assertEquals(512, len);
            }

            @Override
            public void onError(Object cookie, VirtioException error) {
                fail(cookie + ": " + error);
            }
        }));
        assertEquals(List.of("r1"), done);
        assertEquals(-1, out.mismatch(in));

        dev.releaseQueue(vq);
        dev.close();
        assertEquals(0, f.status, "reset on close");
        assertEquals(1, f.closes, "the function closed once");
        assertEquals(0, f.queueEnableZeroWrites);
        memory.free(in);
        memory.free(out);
    }

    @Test
    void refusedFeaturesOkFailsNegotiation() {
        f.acceptFeatures = x -> false;
        VirtioDevice dev = device();
        DeviceException e = assertThrows(DeviceException.class, () -> dev.negotiate(0));
        assertTrue(e.getMessage().contains("did not accept features"), e.getMessage());
        assertTrue((f.status & VirtioStatus.FAILED) != 0, "FAILED set");
        dev.close();
        assertEquals(1, f.closes);
    }

    @Test
    void withoutAccessPlatformTheDeviceNegotiationWouldBeRefusedByQemu() {
        // the same device model, but a transport that did not add ACCESS_PLATFORM would be refused:
        // this is what the fake's default acceptance (QEMU's virtio_validate_features) checks
        assertFalse(f.acceptFeatures.test(bit(VIRTIO_F_VERSION_1)));
        assertTrue(f.acceptFeatures.test(bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_ACCESS_PLATFORM)));
    }

    @Test
    void deviceWithoutVersion1IsRefusedByTheDeviceCore() {
        f.offeredFeatures &= ~bit(VIRTIO_F_VERSION_1);
        VirtioDevice dev = device();
        DeviceException e = assertThrows(DeviceException.class, () -> dev.negotiate(0));
        assertTrue(e.getMessage().contains("without VIRTIO_F_VERSION_1 (bit 32)"), e.getMessage());
        dev.close();
        assertEquals(1, f.closes);
    }

    @Test
    void queueCountBeyondNumQueuesIsRefused() {
        VirtioDevice dev = device();
        dev.negotiate(0);
        DeviceException e = assertThrows(DeviceException.class, () -> dev.start(2, 0, 128, 0));
        assertTrue(e.getMessage().contains("the transport allows 1..1"), e.getMessage());
        dev.close();
    }

    @Test
    void multiQueueKicksReachTheirOwnAddress() {
        f.numQueues = 4;
        f.notifyOff = new int[] {0, 1, 2, 3, 0, 0, 0, 0};
        VirtioDevice dev = device();
        dev.negotiate(bit(VirtioFeatures.VIRTIO_RING_F_EVENT_IDX));
        dev.start(4, 0, 64, 0);
        for (int q = 0; q < 4; q++) {
            dev.backend().notifyQueue(q);
        }
        for (int q = 0; q < 4; q++) {
            assertArrayEquals(new long[] {FakeVirtioPciFunction.NOTIFY + q * FakeVirtioPciFunction.NOTIFY_MULTIPLIER, q}, f.notifies.get(q));
        }
        dev.close();
    }
}
