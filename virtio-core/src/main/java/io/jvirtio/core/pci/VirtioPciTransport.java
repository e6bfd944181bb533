package io.jvirtio.core.pci;

import io.jvirtio.core.QueueSetup;
import io.jvirtio.core.VirtioBackendOps;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.OptionalInt;

/**
 * The virtio-pci modern transport (SPDK's {@code modern_ops}) over a {@link PciFunction}.
 * CONTRACT STUB: the body is being built; the signatures are fixed.
 */
public final class VirtioPciTransport implements VirtioBackendOps {
    /** What {@link #transportType()} and SPDK's {@code driver_specific.virtio.type} say. */
    public static final String TRANSPORT_TYPE = "pci-modern";

    private VirtioPciTransport() {
    }

    /**
     * Takes over a function: walks its virtio capabilities, refuses a legacy-only or incomplete one,
     * resets the device. The transport owns the function from now on ({@link #destruct()} closes it);
     * on failure the function is closed.
     *
     * @throws io.jvirtio.core.DeviceException naming the function and what is missing
     */
    public static VirtioPciTransport open(PciFunction function, VirtioPciOptions options) {
        throw new UnsupportedOperationException("virtio-pci transport not built yet");
    }

    /** @return the function this transport drives */
    public PciFunction function() {
        throw new UnsupportedOperationException();
    }

    @Override public String transportType() { return TRANSPORT_TYPE; }
    @Override public void readDevConfig(long offset, MemorySegment dst) { throw new UnsupportedOperationException(); }
    @Override public void writeDevConfig(long offset, MemorySegment src) { throw new UnsupportedOperationException(); }
    @Override public int getStatus() { throw new UnsupportedOperationException(); }
    @Override public void setStatus(int status) { throw new UnsupportedOperationException(); }
    @Override public long getFeatures() { throw new UnsupportedOperationException(); }
    @Override public void setFeatures(long features) { throw new UnsupportedOperationException(); }
    @Override public OptionalInt getMaxQueues() { throw new UnsupportedOperationException(); }
    @Override public int getQueueSize(int index) { throw new UnsupportedOperationException(); }
    @Override public void setupQueue(QueueSetup queue) { throw new UnsupportedOperationException(); }
    @Override public int deleteQueue(int index) { throw new UnsupportedOperationException(); }
    @Override public void notifyQueue(int index) { throw new UnsupportedOperationException(); }
    @Override public void destruct() { throw new UnsupportedOperationException(); }
    /** {@code type} "pci-modern", {@code pci_address} */
    @Override public Map<String, Object> dumpJsonInfo() { throw new UnsupportedOperationException(); }
    /** {@code trtype} "pci", {@code traddr} */
    @Override public Map<String, Object> writeJsonConfig() { throw new UnsupportedOperationException(); }
}
