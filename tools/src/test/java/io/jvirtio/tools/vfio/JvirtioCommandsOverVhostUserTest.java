package io.jvirtio.tools.vfio;

import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.scsi.ScsiLun;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import io.jvirtio.backend.scsi.VirtioScsiModel;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.core.pci.PciAddress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static io.jvirtio.tools.vfio.JvirtioCommandScenarios.Controller;
import static io.jvirtio.tools.vfio.JvirtioCommandScenarios.PERF_BDEV;
import static io.jvirtio.tools.vfio.JvirtioCommandScenarios.SCSI_CONTROLLER;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The guest's {@code jvirtio} command checks ({@link JvirtioCommandScenarios}) on the host, over
 * vhost-user to the Java target: the {@code bdev_get_bdevs} check of every field ({@link BdevsJsonCheck}),
 * the {@code save-config} round trip and the {@code perf -w verify} result parse and figure line. Only the PCI-specific fields
 * ({@code "type": "pci-modern"}, {@code "pci_address"}) need the guest.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class JvirtioCommandsOverVhostUserTest {

    /** What the Java target's blk (defaults) and scsi LUNs support. */
    private static final Set<String> ALL = Set.of("read", "write", "unmap", "write_zeroes", "flush", "reset");

    /** @return the vhost-user transport's {@code driver_specific.virtio} fields */
    private static Map<String, String> user(Path socket) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("type", "user");
        m.put("socket", socket.toString());
        return m;
    }

    @Test
    void bdevsAndPerfVerifyChecksPassOnARealRun(@TempDir Path dir) throws Exception {
        Path blkSock = dir.resolve("blk.sock");
        Path scsiSock = dir.resolve("scsi.sock");
        RamBlockStore blkStore = new RamBlockStore(16 << 20, false);
        RamBlockStore lun0 = new RamBlockStore(8 << 20, false);
        RamBlockStore lun1 = new RamBlockStore(8 << 20, false);
        VirtioScsiModel scsiModel = new VirtioScsiModel(ScsiModelOptions.builder().name("scsi0").requestQueues(2).build());
        scsiModel.addLun(0, 0, ScsiLun.builder(lun0).blockSize(512).build());
        scsiModel.addLun(0, 1, ScsiLun.builder(lun1).blockSize(VfioGuestPlan.LUN1_BLOCK_SIZE).build());
        ByteArrayOutputStream lines = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(lines, true, StandardCharsets.UTF_8);
        PciAddress unused = PciAddress.parse(VfioGuestPlan.ABSENT_ADDRESS);
        JvirtioCommandScenarios commands = new JvirtioCommandScenarios(out, unused, unused, unused);
        try (VhostUserTarget blk = VhostUserTarget.builder().name("blk0").socket(blkSock)
                .blk(blkStore, BlkModelOptions.builder().blockSize(512).build()).closeOnExit(blkStore).start();
             VhostUserTarget scsi = VhostUserTarget.builder().name("scsi0").socket(scsiSock).model(scsiModel)
                     .closeOnExit(lun0).closeOnExit(lun1).start()) {
            Path both = Files.writeString(dir.resolve("both.json"), JvirtioCommandScenarios.config(List.of(
                    new Controller(PERF_BDEV, "blk", "user", blkSock.toString()),
                    new Controller(SCSI_CONTROLLER, "scsi", "user", scsiSock.toString()))));
            // scsi vq_count 4: 1 request queue (SPDK's default vq_count), control, event, and the scan queue the
            // 2-queue target has to spare (ScsiControllerType)
            commands.checkBdevs(JvirtioCommandScenarios.bdevsOutput(both), List.of(
                    new BdevsJsonCheck.Expected(PERF_BDEV, "VirtioBlk Disk", 512, (16 << 20) / 512, 1, 512, user(blkSock),
                            ALL),
                    new BdevsJsonCheck.Expected(SCSI_CONTROLLER + "t0", "Virtio SCSI Disk", 512, (8 << 20) / 512, 4, 512, user(scsiSock),
                            ALL),
                    new BdevsJsonCheck.Expected(SCSI_CONTROLLER + "t0l1", "Virtio SCSI Disk", VfioGuestPlan.LUN1_BLOCK_SIZE,
                            (8 << 20) / VfioGuestPlan.LUN1_BLOCK_SIZE, 4, 512, user(scsiSock), ALL)));
            String saved = JvirtioCommandScenarios.saveConfigRoundTrip(both);
            assertTrue(saved.contains("\"name\":\"" + PERF_BDEV + "\",\"dev_type\":\"blk\",\"trtype\":\"user\"")
                    && saved.contains("\"name\":\"" + SCSI_CONTROLLER + "\",\"dev_type\":\"scsi\",\"trtype\":\"user\""), saved);
            Path perf = Files.writeString(dir.resolve("perf.json"), JvirtioCommandScenarios.config(List.of(
                    new Controller(PERF_BDEV, "blk", "user", blkSock.toString()))));
            commands.perfVerify(perf);
        }
        String printed = lines.toString(StandardCharsets.UTF_8);
        System.out.println(printed);
        assertTrue(printed.contains("bdevs: " + PERF_BDEV + " driver_specific {"), printed);
        assertTrue(printed.lines().anyMatch(l -> l.startsWith(JvirtioCommandScenarios.PERF_LINE + PERF_BDEV + " verify qd 8")
                && l.contains(" IOPS") && l.contains(" 0 errors, 0 miscompares")), printed);
    }
}
