package io.jvirtio.scsi;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.IoType;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.core.DeviceException;
import io.jvirtio.spec.vhostuser.VhostUserProtocolFeature;
import io.jvirtio.backend.TargetOptions;
import io.jvirtio.backend.scsi.SenseCode;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.jvirtio.scsi.ScsiTestSupport.testOptions;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Attach and scan against the Java vhost-user target: names, geometry, limits, config with and without CONFIG. */
class ScsiAttachTest {
    @TempDir
    Path dir;
    private JavaScsiTarget target;
    private VirtioScsiController ctrl;

    @AfterEach
    void tearDown() {
        if (ctrl != null) {
            ctrl.close();
        }
        if (target != null) {
            target.close();
        }
    }

    private JavaScsiTarget fourLuns(ScsiModelOptions.Builder config, TargetOptions transport) {
        target = JavaScsiTarget.start(dir.resolve("scsi.sock"), config.name("tgt").build(), transport);
        target.addLun(0, 0, 4 << 20, 512);
        target.addLun(0, 3, 2 << 20, 4096, b -> b.maxTransferBytes(64 << 10).maxUnmapBlocks(100).maxUnmapDescriptors(4)
                .maxWriteSameBlocks(50).physicalBlockSize(16384));
        target.addLun(2, 1, 1 << 20, 4096, b -> b.thinProvisioning(false));
        target.addLun(5, 0, 1 << 20, 512, b -> b.readOnly(true));
        return target;
    }

    @Test
    void severalTargetsAndLunsBecomeBdevsNamedAsSpdk() {
        fourLuns(ScsiModelOptions.builder().requestQueues(3), TargetOptions.defaults());
        ctrl = VirtioScsiController.connectVhostUser("Scsi0", target.socket(), testOptions());
        List<String> names = ctrl.bdevs().stream().map(Bdev::name).toList();
        assertEquals(List.of("Scsi0t0", "Scsi0t0l3", "Scsi0t2l1", "Scsi0t5"), names);
        assertTrue(ctrl.config().fromDevice());
        assertEquals(8, ctrl.targetCount(), "targets 0..max_target (7)");
        assertTrue(ctrl.hasDedicatedScanQueue(), "3 request queues on the device, 1 asked: one is the scan queue");

        VirtioScsiDisk t0 = ctrl.bdev("Scsi0t0").orElseThrow();
        assertEquals(512, t0.blockSize());
        assertEquals((4 << 20) / 512, t0.blockCount());
        assertEquals(VirtioScsiDisk.PRODUCT_NAME, t0.productName());
        assertEquals(Set.of(IoType.READ, IoType.WRITE, IoType.FLUSH, IoType.RESET, IoType.UNMAP, IoType.WRITE_ZEROES),
                t0.supportedIoTypes());
        assertEquals("JVIRTIO", t0.info().vendor());
        assertEquals("Virtio SCSI Disk", t0.info().product());
        assertTrue(t0.info().lbpu() && t0.info().lbpws() && t0.info().lbprz() && t0.info().lbpme());

        VirtioScsiDisk l3 = ctrl.disk(0, 3).orElseThrow();
        assertEquals(4096, l3.blockSize());
        assertEquals(512, l3.blockCount());
        assertEquals(16, l3.info().maxTransferBlocks(), "64 KiB of 4 KiB blocks (VPD 0xB0)");
        assertEquals(100, l3.info().maxUnmapBlocks());
        assertEquals(4, l3.info().maxUnmapDescriptors());
        assertEquals(50, l3.info().maxWriteSameBlocks());
        assertEquals(2, l3.info().physicalBlockExponent(), "16 KiB physical blocks (READ CAPACITY (16))");
        assertEquals(4, l3.info().optimalGranularity());

        VirtioScsiDisk t2 = ctrl.disk(2, 1).orElseThrow();
        assertEquals(Set.of(IoType.READ, IoType.WRITE, IoType.FLUSH, IoType.RESET), t2.supportedIoTypes(),
                "no thin provisioning: no VPD 0xB2, no UNMAP / WRITE SAME");
        assertFalse(t2.info().hasProvisioning());

        VirtioScsiDisk t5 = ctrl.disk(5, 0).orElseThrow();
        assertTrue(t5.readOnly(), "MODE SENSE WP");
        assertFalse(t5.supports(IoType.WRITE));

        Map<String, Object> info = t0.driverSpecificInfo();
        @SuppressWarnings("unchecked")
        Map<String, Object> virtio = (Map<String, Object>) info.get("virtio");
        assertEquals(List.of("vq_count", "vq_size", "type", "socket"), List.copyOf(virtio.keySet()));
        assertEquals(2 + 1 + 1, virtio.get("vq_count"), "control, event, 1 request queue, the scan queue");
        assertEquals(128, virtio.get("vq_size"));
        assertEquals("user", virtio.get("type"));
        assertEquals(target.socket().toString(), virtio.get("socket"));
    }

    @Test
    void withoutConfigProtocolFeatureSpdkDefaultsAreUsed() {
        fourLuns(ScsiModelOptions.builder().requestQueues(2),
                TargetOptions.builder().protocolFeature(VhostUserProtocolFeature.CONFIG, false).build());
        ctrl = VirtioScsiController.connectVhostUser("Scsi0", target.socket(), testOptions().withRequestQueues(2));
        VirtioScsiConfig config = ctrl.config();
        assertFalse(config.fromDevice());
        assertEquals(2, config.numQueues(), "GET_QUEUE_NUM 4, minus control and event");
        assertEquals(96, config.senseSize());
        assertEquals(32, config.cdbSize());
        assertEquals(64, ctrl.targetCount(), "SPDK scans targets 0..63");
        assertFalse(ctrl.hasDedicatedScanQueue(), "no spare request queue");
        assertEquals(4, ctrl.bdevs().size());
        // I/O works on defaults
        VirtioScsiDisk d = ctrl.disk(0, 3).orElseThrow();
        try (VirtioScsiChannel ch = d.openChannel()) {
            MemorySegment buf = d.allocateBuffer(8192, 4096);
            ScsiTestSupport.fill(buf, 3);
            SyncIo io = new SyncIo(ch);
            io.write(buf, 4096);
            MemorySegment back = d.allocateBuffer(8192, 4096);
            io.read(back, 4096);
            ScsiTestSupport.assertSameBytes(buf, back, "read back");
        }
    }

    @Test
    void aLunNotReadyIsStartedAndAUnitAttentionIsRetried() {
        target = JavaScsiTarget.start(dir.resolve("scsi.sock"), ScsiModelOptions.builder().name("tgt").build());
        target.addLun(1, 0, 1 << 20, 512, b -> b.startsStopped(true));
        target.addLun(1, 1, 1 << 20, 512);
        target.faults().unitAttention(1, 1, SenseCode.POWER_ON_RESET);
        ctrl = VirtioScsiController.connectVhostUser("S", target.socket(), testOptions());
        assertEquals(List.of("St1", "St1l1"), ctrl.bdevs().stream().map(Bdev::name).toList());
        assertFalse(target.model.lun(1, 0).stopped(), "START STOP UNIT sent");
    }

    @Test
    void aTargetWithoutLun0ExposesItsOtherLuns() {
        target = JavaScsiTarget.start(dir.resolve("scsi.sock"), ScsiModelOptions.builder().name("tgt").maxLun(511).build());
        target.addLun(3, 7, 1 << 20, 512);
        target.addLun(3, 300, 1 << 20, 4096);
        ctrl = VirtioScsiController.connectVhostUser("S", target.socket(), testOptions());
        assertEquals(List.of("St3l7", "St3l300"), ctrl.bdevs().stream().map(Bdev::name).toList());
        VirtioScsiDisk d = ctrl.disk(3, 300).orElseThrow();
        assertEquals(0x412C, d.info().address(), "flat space addressing as REPORT LUNS listed it");
        try (VirtioScsiChannel ch = d.openChannel()) {
            MemorySegment buf = d.allocateBuffer(4096, 4096);
            ScsiTestSupport.fill(buf, 9);
            new SyncIo(ch).write(buf, 0);
            ScsiTestSupport.assertSameBytes(buf, target.ram(3, 300).contents().asSlice(0, 4096), "LUN 300 on the target");
        }
    }

    @Test
    void moreRequestQueuesThanTheDeviceHasIsAClearError() {
        fourLuns(ScsiModelOptions.builder().requestQueues(2), TargetOptions.defaults());
        DeviceException e = assertThrows(DeviceException.class,
                () -> VirtioScsiController.connectVhostUser("S", target.socket(), testOptions().withRequestQueues(3)));
        assertTrue(e.getMessage().contains("3 request queues requested, the device has 2"), e.getMessage());
        // nothing half-attached: the target serves the next front-end
        ctrl = VirtioScsiController.connectVhostUser("S", target.socket(), testOptions().withRequestQueues(2));
        assertEquals(4, ctrl.bdevs().size());
    }

    @Test
    void scanTargetsOptionLimitsTheScan() {
        fourLuns(ScsiModelOptions.builder(), TargetOptions.defaults());
        ctrl = VirtioScsiController.connectVhostUser("S", target.socket(), testOptions().withScanTargets(3));
        assertEquals(List.of("St0", "St0l3", "St2l1"), ctrl.bdevs().stream().map(Bdev::name).toList());
    }
}
