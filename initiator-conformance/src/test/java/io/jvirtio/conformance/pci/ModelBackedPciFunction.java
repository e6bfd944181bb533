package io.jvirtio.conformance.pci;

import io.jvirtio.backend.device.DeviceRequest;
import io.jvirtio.backend.device.VirtioDeviceModel;
import io.jvirtio.core.pci.FakeVirtioPciFunction;
import io.jvirtio.core.ring.SimulatedDevice;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.VirtioStatus;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Set;

/**
 * A simulated virtio-pci function whose device side is a Java target model (the blk model of the
 * vhost-user target): the register file of {@link FakeVirtioPciFunction} with the model's
 * features (plus ACCESS_PLATFORM, as QEMU's iommu_platform=on device) and config, and, on each
 * notify, the queue's ring served in-process by {@link SimulatedDevice} at the addresses the
 * driver wrote into the queue registers (IOVA = process address, as with VFIO here), each request
 * handed to the model. Requests run on the notifying thread; the model must complete them before
 * {@code handle} returns (the blk model does, and the scsi model for its control and request queues).
 */
final class ModelBackedPciFunction {
    private final FakeVirtioPciFunction function;
    private final VirtioDeviceModel model;
    private final SimulatedDevice[] queues;
    private final Set<Integer> heldQueues;

    /**
     * @param bdf        the captured config space to present
     * @param model      the device side
     * @param heldQueues queues whose buffers the device keeps without completing them (the scsi event
     *                   queue: a device with no event to report); their notifies are not served
     */
    ModelBackedPciFunction(String bdf, VirtioDeviceModel model, Set<Integer> heldQueues) {
        this.function = FakeVirtioPciFunction.fixture(bdf);
        this.model = model;
        this.heldQueues = Set.copyOf(heldQueues);
        if (model.numQueues() > FakeVirtioPciFunction.MAX_QUEUES) {
            throw new IllegalArgumentException(model.numQueues() + " queues: the register file has " + FakeVirtioPciFunction.MAX_QUEUES);
        }
        this.queues = new SimulatedDevice[model.numQueues()];
        function.numQueues = model.numQueues();
        // The simulated device behind the function plays split rings only.
        function.offeredFeatures = model.deviceFeatures() & ~VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_RING_PACKED)
                | VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_ACCESS_PLATFORM);
        MemorySegment.copy(readModelConfig(), 0, MemorySegment.ofArray(function.deviceConfig), 0, model.configSize());
        function.onStatus = this::statusChanged;
        function.onReset = this::reset;
        function.onNotify = this::notified;
    }

    private MemorySegment readModelConfig() {
        MemorySegment cfg = MemorySegment.ofArray(new byte[model.configSize()]);
        model.readConfig(0, cfg);
        return cfg;
    }

    /** @return the PCI function to open the transport on */
    FakeVirtioPciFunction function() {
        return function;
    }

    private void statusChanged(int status) {
        if ((status & VirtioStatus.FEATURES_OK) != 0) {
            model.featuresNegotiated(function.driverFeatures & ~VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_ACCESS_PLATFORM));
        }
    }

    private void reset() {
        if (queues != null) {
            for (int q = 0; q < queues.length; q++) {
                if (queues[q] != null) {
                    model.queueStopped(q);
                    queues[q] = null;
                }
            }
            model.reset();
        }
    }

    private void notified(int q) {
        if ((function.status & VirtioStatus.DRIVER_OK) == 0 || function.queueEnable[q] != 1) {
            throw new AssertionError("queue " + q + " notified before it runs (status 0x" + Integer.toHexString(function.status) + ")");
        }
        if (heldQueues.contains(q)) {
            return;
        }
        SimulatedDevice sim = queues[q];
        if (sim == null) {
            boolean eventIdx = VirtioFeatures.has(function.driverFeatures, VirtioFeatures.VIRTIO_RING_F_EVENT_IDX);
            sim = new SimulatedDevice(function.queueSize[q], function.queueDesc[q], function.queueAvail[q], function.queueUsed[q], eventIdx);
            sim.handler((readable, writable) -> handle(q, readable, writable));
            queues[q] = sim;
        }
        sim.process();
    }

    private int handle(int q, List<SimulatedDevice.Buffer> readable, List<SimulatedDevice.Buffer> writable) {
        Request r = new Request(q, readable, writable);
        model.handle(r);
        if (r.written < 0) {
            throw new AssertionError(model.name() + " did not complete a request of queue " + q + " within handle()");
        }
        return r.written;
    }

    /** One request as the model sees it. */
    private static final class Request implements DeviceRequest {
        private final int queue;
        private final List<SimulatedDevice.Buffer> readable;
        private final List<SimulatedDevice.Buffer> writable;
        int written = -1;

        Request(int queue, List<SimulatedDevice.Buffer> readable, List<SimulatedDevice.Buffer> writable) {
            this.queue = queue;
            this.readable = readable;
            this.writable = writable;
        }

        @Override public int queueIndex() { return queue; }
        @Override public int readableCount() { return readable.size(); }
        @Override public MemorySegment readable(int i) { return readable.get(i).segment(); }
        @Override public int writableCount() { return writable.size(); }
        @Override public MemorySegment writable(int i) { return writable.get(i).segment(); }
        @Override public long readableBytes() { return readable.stream().mapToLong(SimulatedDevice.Buffer::length).sum(); }
        @Override public long writableBytes() { return writable.stream().mapToLong(SimulatedDevice.Buffer::length).sum(); }

        @Override
        public void complete(int bytesWritten) {
            if (written >= 0) {
                throw new AssertionError("request completed twice");
            }
            written = bytesWritten;
        }
    }
}
