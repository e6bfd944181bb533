package io.jvirtio.config;

import io.jvirtio.core.DriverAttach;
import io.jvirtio.core.QueueSetup;
import io.jvirtio.core.TransportListener;
import io.jvirtio.core.VirtioBackendOps;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.pci.PciAddress;
import io.jvirtio.core.vhostuser.VhostUserAttach;
import io.jvirtio.core.vhostuser.VhostUserOptions;
import io.jvirtio.spec.VirtioFeatures;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.jvirtio.config.JsonObjectReader.quote;

/**
 * FOR SHAPE AND ORDER TESTS ONLY, NOT A PCI TRANSPORT: a {@code trtype pci} step that reaches the "function" at a
 * PCI address through a vhost-user socket of jvirtio's Java target, and hands the drivers a transport that answers
 * as SPDK's modern virtio-pci transport does where the JSON layer can see it ({@code transportType} "pci-modern",
 * {@code dumpJsonInfo} {type, pci_address}, {@code writeJsonConfig} {trtype "pci", traddr}, queues of at most 256 as
 * QEMU's, no lost-peer reports). It lets the real drivers and the real json-config code produce the pci JSON while
 * the VFIO transport is not in this build; the transport itself runs in the Linux-guest tests.
 */
final class PciLookalikeStep implements TransportAttachStep {
    /** QEMU's virtio-blk-pci / virtio-scsi-pci queue size. */
    static final int PCI_QUEUE_MAX = 256;

    private final Map<PciAddress, Path> sockets;
    private final long hiddenFeatures;
    final List<String> attaches = new CopyOnWriteArrayList<>();

    /**
     * @param sockets        the Java target behind each address
     * @param hiddenFeatures feature bits the look-alike does not offer (to match the devices SPDK dumped)
     */
    PciLookalikeStep(Map<PciAddress, Path> sockets, int... hiddenFeatures) {
        this.sockets = Map.copyOf(sockets);
        long hidden = 0;
        for (int f : hiddenFeatures) {
            hidden |= VirtioFeatures.bit(f);
        }
        this.hiddenFeatures = hidden;
    }

    @Override
    public <T> T attach(ControllerParams params, long memoryBytes, HugePagePolicy hugePages, DriverAttach<T> driver) {
        PciAddress address = params.pciAddress();
        attaches.add(params.name() + " " + address);
        Path socket = sockets.get(address);
        if (socket == null) {
            throw new ConfigException(JsonPath.of("traddr"), quote(params.traddr()) + ": no look-alike function at " + address);
        }
        return VhostUserAttach.attach(params.name(), socket, memoryBytes, HugePagePolicy.NEVER, VhostUserOptions.defaults(),
                (ops, memory) -> driver.attach(new Lookalike(ops, address, hiddenFeatures), memory));
    }

    /** The vhost-user front-end dressed as a modern virtio-pci transport, for the JSON layer's eyes. */
    private record Lookalike(VirtioBackendOps ops, PciAddress address, long hidden) implements VirtioBackendOps {
        @Override public String transportType() { return "pci-modern"; }
        @Override public void readDevConfig(long offset, MemorySegment dst) { ops.readDevConfig(offset, dst); }
        @Override public void writeDevConfig(long offset, MemorySegment src) { ops.writeDevConfig(offset, src); }
        @Override public int getStatus() { return ops.getStatus(); }
        @Override public void setStatus(int status) { ops.setStatus(status); }
        @Override public long getFeatures() { return ops.getFeatures() & ~hidden; }
        @Override public void setFeatures(long features) { ops.setFeatures(features); }
        @Override public OptionalInt getMaxQueues() { return ops.getMaxQueues(); }
        @Override public int getQueueSize(int index) { return Math.min(PCI_QUEUE_MAX, ops.getQueueSize(index)); }
        @Override public void setupQueue(QueueSetup queue) { ops.setupQueue(queue); }
        @Override public int deleteQueue(int index) { return ops.deleteQueue(index); }
        @Override public void notifyQueue(int index) { ops.notifyQueue(index); }
        @Override public void destruct() { ops.destruct(); }
        /** A PCI function has no peer to lose: the listener is never called. */
        @Override public void setTransportListener(TransportListener listener) { }

        @Override
        public Map<String, Object> dumpJsonInfo() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("type", "pci-modern");
            m.put("pci_address", address.toString());
            return m;
        }

        @Override
        public Map<String, Object> writeJsonConfig() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("trtype", "pci");
            m.put("traddr", address.toString());
            return m;
        }
    }
}
