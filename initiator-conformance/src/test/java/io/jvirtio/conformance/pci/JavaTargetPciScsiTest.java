package io.jvirtio.conformance.pci;

import io.jvirtio.bdev.SyncIo;
import io.jvirtio.backend.scsi.ScsiLun;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import io.jvirtio.backend.scsi.VirtioScsiModel;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.pci.VirtioPciOptions;
import io.jvirtio.core.pci.VirtioPciTransport;
import io.jvirtio.scsi.VirtioScsiChannel;
import io.jvirtio.scsi.VirtioScsiController;
import io.jvirtio.scsi.VirtioScsiDisk;
import io.jvirtio.scsi.VirtioScsiOptions;
import io.jvirtio.spec.pci.VirtioPciSpec;
import io.jvirtio.spec.scsi.VirtioScsiSpec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.Map;
import java.util.Set;

import static io.jvirtio.core.testing.BlkPatterns.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The real virtio-scsi driver over the virtio-pci transport, in process: {@link VirtioScsiController}
 * attached to {@link VirtioPciTransport} on the captured modern virtio-scsi-pci config space, whose
 * device side is the Java target's scsi model with two RAM LUNs (512 and 4096-byte blocks). The
 * event queue's buffers are held (no hot-plug event to report).
 */
class JavaTargetPciScsiTest {
    private static final long LUN_BYTES = 8L << 20;

    private final RamBlockStore lun0 = new RamBlockStore(LUN_BYTES, false);
    private final RamBlockStore lun1 = new RamBlockStore(LUN_BYTES, false);
    private final VirtioScsiModel model = new VirtioScsiModel(ScsiModelOptions.builder().name("pci-scsi").requestQueues(2).build());
    private VirtioScsiController ctrl;

    @AfterEach
    void close() {
        if (ctrl != null) {
            ctrl.close();
        }
        model.close();
    }

    @Test
    void scanAndIoOnBothLuns() {
        model.addLun(0, 0, ScsiLun.builder(lun0).blockSize(512).build());
        model.addLun(1, 0, ScsiLun.builder(lun1).blockSize(4096).build());
        ModelBackedPciFunction f = new ModelBackedPciFunction("0000:00:10.0", model, Set.of(VirtioScsiSpec.EVENTQ));
        VirtioPciTransport transport = VirtioPciTransport.open(f.function(), VirtioPciOptions.defaults().withVirtioId(VirtioPciSpec.VIRTIO_ID_SCSI));
        MemoryDomain memory = MemoryDomain.create("pci-scsi", 32L << 20, HugePagePolicy.NEVER);
        ctrl = VirtioScsiController.attach("pcis0", transport, memory, true, VirtioScsiOptions.defaults().withRequestQueues(1).withQueueSize(128)
                .withScanTargets(4).withCommandTimeout(Duration.ofSeconds(10)));

        Object virtio = ctrl.driverSpecificInfo().get("virtio");
        assertInstanceOf(Map.class, virtio);
        assertEquals("pci-modern", ((Map<?, ?>) virtio).get("type"));
        assertEquals(2, ctrl.bdevs().size(), ctrl.bdevs().toString());
        RamBlockStore[] stores = {lun0, lun1};
        for (int t = 0; t < 2; t++) {
            VirtioScsiDisk d = ctrl.disk(t, 0).orElseThrow();
            assertEquals(t == 0 ? 512 : 4096, d.blockSize());
            assertEquals(LUN_BYTES / d.blockSize(), d.blockCount());
            try (VirtioScsiChannel ch = d.openChannel()) {
                SyncIo io = new SyncIo(ch);
                for (int size : new int[] {4096, 65536, 1 << 20}) {
                    long offset = LUN_BYTES - size - 4096L * t;
                    MemorySegment w = d.allocateBuffer(size, 4096);
                    MemorySegment rd = d.allocateBuffer(size, 4096);
                    try {
                        fill(w, offset * 3 + size + t);
                        io.write(w, offset);
                        assertSameBytes(bytes(w), stores[t].contents().asSlice(offset, size).toArray(ValueLayout.JAVA_BYTE),
                                d.name() + " store " + size + " at " + offset);
                        io.read(rd, offset);
                        assertSameBytes(bytes(w), bytes(rd), d.name() + " read back " + size + " at " + offset);
                    } finally {
                        d.freeBuffer(w);
                        d.freeBuffer(rd);
                    }
                }
            }
        }
        ctrl.close();
        ctrl = null;
        assertEquals(1, f.function().closes);
        assertEquals(0, f.function().queueEnableZeroWrites);
    }
}
