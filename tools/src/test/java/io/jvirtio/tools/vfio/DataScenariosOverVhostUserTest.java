package io.jvirtio.tools.vfio;

import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.scsi.ScsiLun;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import io.jvirtio.backend.scsi.VirtioScsiModel;
import io.jvirtio.backend.store.FileBlockStore;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.scsi.VirtioScsiController;
import io.jvirtio.scsi.VirtioScsiOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static io.jvirtio.tools.vfio.VfioGuestPlan.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The guest's data scenarios ({@link DataScenarios}) on the host, in every build: the same bodies over
 * vhost-user to the Java target, whose disks are image files like the guest's, then the same
 * image checks {@link VfioGuestTest} makes. A bug in a scenario or a check shows here in seconds,
 * not in a guest; only the transport differs from the guest run.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class DataScenariosOverVhostUserTest {

    private static Path image(Path dir, String name, long size) throws IOException {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
        }
        return p;
    }

    @Test
    void scenariosPassAndTheImagesHoldWhatThePlanSays(@TempDir Path dir) throws Exception {
        Map<String, Path> images = Map.of("blk", image(dir, "blk.img", BLK_BYTES), "lun0", image(dir, "lun0.img", LUN_BYTES),
                "lun1", image(dir, "lun1.img", LUN_BYTES));
        Path blkSock = dir.resolve("blk.sock");
        Path scsiSock = dir.resolve("scsi.sock");
        FileBlockStore blkStore = new FileBlockStore(images.get("blk"), false);
        FileBlockStore lun0 = new FileBlockStore(images.get("lun0"), false);
        FileBlockStore lun1 = new FileBlockStore(images.get("lun1"), false);
        VirtioScsiModel scsiModel = new VirtioScsiModel(ScsiModelOptions.builder().name("scsi0").requestQueues(SCSI_QUEUES).build());
        scsiModel.addLun(0, 0, ScsiLun.builder(lun0).blockSize(512).build());
        scsiModel.addLun(0, 1, ScsiLun.builder(lun1).blockSize(LUN1_BLOCK_SIZE).build());
        ByteArrayOutputStream lines = new ByteArrayOutputStream();
        ScenarioRunner runner = new ScenarioRunner(new PrintStream(lines, true, StandardCharsets.UTF_8), 0);
        try (VhostUserTarget blkTarget = VhostUserTarget.builder().name("blk0").socket(blkSock)
                .blk(blkStore, BlkModelOptions.builder().blockSize(512).numQueues(BLK_QUEUES).discard(true).writeZeroes(true).build())
                .closeOnExit(blkStore).start();
             VhostUserTarget scsiTarget = VhostUserTarget.builder().name("scsi0").socket(scsiSock).model(scsiModel)
                     .closeOnExit(lun0).closeOnExit(lun1).start()) {
            DataScenarios.Devices devices = new DataScenarios.Devices() {
                @Override
                public VirtioBlkDevice blk(String name, int requestQueues, long memoryBytes, boolean barsThroughFile) {
                    return VirtioBlkDevice.connectVhostUser(name, blkSock,
                            VirtioBlkOptions.defaults().withRequestQueues(requestQueues).withMemoryBytes(memoryBytes));
                }

                @Override
                public VirtioScsiController scsi(String name, VirtioScsiOptions options) {
                    return VirtioScsiController.connectVhostUser(name, scsiSock, options);
                }
            };
            new DataScenarios(runner, devices, "vhost-user").runAll();
        }
        String out = lines.toString(StandardCharsets.UTF_8);
        System.out.println(out);
        assertEquals(Map.of(), runner.failures(), out);
        GuestLines parsed = new GuestLines(out, SCENARIOS);
        for (String s : List.of(BLK_ATTACH, BLK_PATTERNS, BLK_VECTORED, BLK_FLUSH, BLK_DISCARD, BLK_WRITE_ZEROES, BLK_TWO_QUEUES,
                BLK_REATTACH, SCSI_SCAN, SCSI_LUN0, SCSI_LUN1, SCSI_TWO_QUEUES, BLK_MEMORY_GROWTH, BLK_MEMORY_RELEASED, BLK_BAR_FILE)) {
            assertEquals(true, parsed.outcome(s).map(GuestLines.Outcome::ok).orElse(false), s + " did not report ok:\n" + out);
        }
        for (ImagePlan plan : VfioGuestPlan.images()) {
            assertEquals(Optional.empty(), ImageCheck.whole(images.get(plan.image()), plan), plan.image());
        }
    }
}
