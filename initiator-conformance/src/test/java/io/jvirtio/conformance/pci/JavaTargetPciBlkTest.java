package io.jvirtio.conformance.pci;

import io.jvirtio.bdev.IoType;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.blk.VirtioBlkChannel;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.blk.VirtioBlkModel;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.core.DeviceException;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.pci.FakeVirtioPciFunction;
import io.jvirtio.core.pci.VirtioPciOptions;
import io.jvirtio.core.pci.VirtioPciTransport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import static io.jvirtio.core.testing.BlkPatterns.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The real virtio-blk driver over the virtio-pci transport, in process: {@link VirtioBlkDevice}
 * attached to {@link VirtioPciTransport} on a simulated PCI function whose device side is the Java
 * target's blk model over a RAM disk. Covers config read through the device-config BAR with field
 * widths, negotiation with ACCESS_PLATFORM, queue setup through the common cfg, kicks through the
 * notify BAR, and real reads and writes landing in the store.
 */
class JavaTargetPciBlkTest {
    private static final long DISK_BYTES = 16L << 20;

    private final RamBlockStore store = new RamBlockStore(DISK_BYTES, false);
    private VirtioBlkModel model;
    private VirtioBlkDevice blk;

    @AfterEach
    void close() {
        if (blk != null) {
            blk.close();
        }
        if (model != null) {
            model.close();
        }
    }

    private ModelBackedPciFunction function(int queues) {
        model = new VirtioBlkModel("pci-model", store, BlkModelOptions.builder().numQueues(queues).build());
        return new ModelBackedPciFunction("0000:00:05.0", model, Set.of());
    }

    private VirtioBlkDevice attach(ModelBackedPciFunction f, int queues) {
        VirtioPciTransport transport = VirtioPciTransport.open(f.function(), VirtioPciOptions.defaults());
        MemoryDomain memory = MemoryDomain.create("pci-blk", 16L << 20, HugePagePolicy.NEVER);
        VirtioBlkOptions options = VirtioBlkOptions.defaults().withRequestQueues(queues).withQueueSize(128);
        return VirtioBlkDevice.attach("pcib0", transport, memory, true, options);
    }

    @Test
    void attachReadsConfigAndReportsThePciTransport() {
        ModelBackedPciFunction f = function(2);
        blk = attach(f, 2);
        assertEquals(512, blk.blockSize());
        assertEquals(DISK_BYTES / 512, blk.blockCount());
        assertEquals(2, blk.maxChannels());
        assertTrue(blk.supports(IoType.FLUSH));
        Object virtio = blk.driverSpecificInfo().get("virtio");
        assertInstanceOf(Map.class, virtio);
        assertEquals("pci-modern", ((Map<?, ?>) virtio).get("type"));
        assertEquals("0000:00:05.0", ((Map<?, ?>) virtio).get("pci_address"));
        assertEquals(2, f.function().queueEnable[0] + f.function().queueEnable[1]);
    }

    @Test
    void writesAndReadsGoThroughThePciTransportIntoTheStore() {
        blk = attach(function(1), 1);
        try (VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = new SyncIo(ch);
            SplittableRandom r = new SplittableRandom(7);
            for (int size : new int[] {512, 4096, 65536, 1 << 20}) {
                long offset = r.nextLong((DISK_BYTES - size) / 512) * 512;
                MemorySegment w = blk.allocateBuffer(size, 4096);
                MemorySegment rd = blk.allocateBuffer(size, 4096);
                try {
                    fill(w, offset + size);
                    io.write(w, offset);
                    assertSameBytes(bytes(w), store.contents().asSlice(offset, size).toArray(ValueLayout.JAVA_BYTE), "store " + size + " at " + offset);
                    io.read(rd, offset);
                    assertSameBytes(bytes(w), bytes(rd), "read back " + size + " at " + offset);
                    io.flush();
                } finally {
                    blk.freeBuffer(w);
                    blk.freeBuffer(rd);
                }
            }
        }
    }

    @Test
    void closeResetsTheDeviceAndClosesTheFunctionOnce() {
        ModelBackedPciFunction f = function(1);
        blk = attach(f, 1);
        blk.close();
        blk = null;
        FakeVirtioPciFunction fn = f.function();
        assertEquals(0, fn.status);
        assertEquals(1, fn.closes);
        assertEquals(0, fn.queueEnableZeroWrites, "no queue_enable = 0");
    }

    @Test
    void tooManyQueuesIsRefusedAndEverythingIsClosed() {
        ModelBackedPciFunction f = function(1);
        DeviceException e = assertThrows(DeviceException.class, () -> attach(f, 2));
        assertTrue(e.getMessage().contains("2 request queues requested"), e.getMessage());
        assertEquals(1, f.function().closes);
    }
}
