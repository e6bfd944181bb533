package io.jvirtio.bench.device;

import io.jvirtio.core.DeviceException;
import io.jvirtio.core.QueueSetup;
import io.jvirtio.core.VirtioBackendOps;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.VirtioStatus;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.OptionalInt;

/**
 * A virtio device in this process behind {@link VirtioBackendOps}, its queues processed inline by the
 * kick: {@link #notifyQueue} runs the device on the driver's thread, so a submission's kick has
 * completed the request before it returns and the driver's next poll finds it. A benchmark then measures
 * the initiator's cost per I/O plus the device's (small, allocation-free) work, with no thread hand-off.
 *
 * <p>Subclasses are the device types: config space, features, and what one chain does.
 */
public abstract class InlineBackend implements VirtioBackendOps {
    private static final int MAX_CHAIN_BUFFERS = 1024;

    private final MemorySegment config;
    private final long offered;
    private final int maxQueueSize;
    private final InlineSplitRing[] queues;
    private final InlineSplitRing.ChainHandler[] handlers;
    private volatile int status;
    private long driverFeatures;

    /**
     * @param offered      device feature bits offered (VERSION_1 is added)
     * @param configSize   bytes of config space
     * @param numQueues    queues the device has
     * @param maxQueueSize the largest queue size it takes
     */
    protected InlineBackend(long offered, int configSize, int numQueues, int maxQueueSize) {
        this.offered = offered | VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1);
        this.config = MemorySegment.ofArray(new byte[configSize]);
        this.maxQueueSize = maxQueueSize;
        this.queues = new InlineSplitRing[numQueues];
        this.handlers = new InlineSplitRing.ChainHandler[numQueues];
        for (int i = 0; i < numQueues; i++) {
            int q = i;
            handlers[i] = chain -> handle(q, chain);
        }
    }

    /** @return the config space, for the subclass to fill in */
    protected final MemorySegment config() {
        return config;
    }

    /** @return the features the driver accepted */
    protected final synchronized long driverFeatures() {
        return driverFeatures;
    }

    /**
     * Handles one chain of queue {@code queue}, on the kicking thread.
     *
     * @return bytes written into the chain's writable buffers
     */
    protected abstract int handle(int queue, DeviceChain chain);

    /** @return whether the device keeps the chains of {@code queue} instead of completing them (an event queue) */
    protected boolean holds(int queue) {
        return false;
    }

    @Override
    public String transportType() {
        return "inline";
    }

    @Override
    public void readDevConfig(long offset, MemorySegment dst) {
        if (offset < 0 || offset + dst.byteSize() > config.byteSize()) {
            throw new DeviceException("inline: config read of " + dst.byteSize() + " bytes at " + offset + " beyond " + config.byteSize());
        }
        MemorySegment.copy(config, offset, dst, 0, dst.byteSize());
    }

    @Override
    public void writeDevConfig(long offset, MemorySegment src) {
        MemorySegment.copy(src, 0, config, offset, src.byteSize());
    }

    @Override
    public int getStatus() {
        return status;
    }

    @Override
    public synchronized void setStatus(int newStatus) {
        if (newStatus == VirtioStatus.RESET) {
            driverFeatures = 0;
            java.util.Arrays.fill(queues, null);
        }
        if ((newStatus & VirtioStatus.FEATURES_OK) != 0 && (driverFeatures & ~offered) != 0) {
            newStatus &= ~VirtioStatus.FEATURES_OK;
        }
        status = newStatus;
    }

    @Override
    public long getFeatures() {
        return offered;
    }

    @Override
    public synchronized void setFeatures(long features) {
        driverFeatures = features;
    }

    @Override
    public OptionalInt getMaxQueues() {
        return OptionalInt.of(queues.length);
    }

    @Override
    public int getQueueSize(int index) {
        return maxQueueSize;
    }

    @Override
    public synchronized void setupQueue(QueueSetup q) {
        boolean eventIdx = VirtioFeatures.has(driverFeatures, VirtioFeatures.VIRTIO_RING_F_EVENT_IDX);
        queues[q.index()] = new InlineSplitRing(q.size(), q.descAddress(), q.availAddress(), q.usedAddress(), q.availIndex(),
                eventIdx, MAX_CHAIN_BUFFERS);
    }

    @Override
    public synchronized int deleteQueue(int index) {
        queues[index] = null;
        return -1;
    }

    @Override
    public void notifyQueue(int index) {
        InlineSplitRing ring = queues[index];
        if (ring != null && !holds(index)) {
            ring.process(handlers[index]);
        }
    }

    @Override
    public void destruct() {
        java.util.Arrays.fill(queues, null);
    }

    @Override
    public Map<String, Object> dumpJsonInfo() {
        return Map.of("type", "inline");
    }

    @Override
    public Map<String, Object> writeJsonConfig() {
        return Map.of("trtype", "inline");
    }
}
