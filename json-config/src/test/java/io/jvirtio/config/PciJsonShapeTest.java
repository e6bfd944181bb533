package io.jvirtio.config;

import com.fasterxml.jackson.databind.JsonNode;
import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.blk.VirtioBlkModel;
import io.jvirtio.backend.scsi.ScsiLun;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import io.jvirtio.backend.scsi.VirtioScsiModel;
import io.jvirtio.backend.store.BlockStore;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.pci.PciAddress;
import io.jvirtio.core.vhostuser.VhostUserOptions;
import io.jvirtio.scsi.VirtioScsiOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.jvirtio.config.TestJson.*;
import static io.jvirtio.spec.blk.VirtioBlkSpec.VIRTIO_BLK_F_FLUSH;
import static org.junit.jupiter.api.Assertions.*;

/**
 * SHAPE AND ORDER ONLY: {@code trtype pci} as SPDK writes it ({@code spdk-json/pci/}, derived from SPDK's source),
 * through the real drivers, controller types, registry and JSON writers, but over {@link PciLookalikeStep}: the Java
 * vhost-user target dressed as a virtio-pci transport. The devices are those SPDK dumped in the vhost-user capture
 * (VirtioBlk0 131072 x 512 B without flush, 2 queues; VirtioScsi0t0 16384 x 4096 B, 1 request queue), at
 * 0000:00:05.0 and 0000:00:06.0. The virtio-pci transport itself is tested in the Linux guest.
 */
class PciJsonShapeTest {
    private static final PciAddress BLK_ADDRESS = PciAddress.parse("0000:00:05.0");
    private static final PciAddress SCSI_ADDRESS = PciAddress.parse("0000:00:06.0");

    @TempDir
    Path dir;

    private final List<BlockStore> stores = new ArrayList<>();
    private final List<VhostUserTarget> targets = new ArrayList<>();
    private PciLookalikeStep blkStep;
    private PciLookalikeStep scsiStep;
    private BdevRegistry registry;

    @BeforeEach
    void start() {
        RamBlockStore blkStore = new RamBlockStore(131072L * 512, false);
        stores.add(blkStore);
        Path blkSocket = dir.resolve("blk.sock");
        targets.add(VhostUserTarget.builder().name("blk").socket(blkSocket)
                .model(new VirtioBlkModel("blk", blkStore, BlkModelOptions.builder().numQueues(2).build())).start());

        VirtioScsiModel scsi = new VirtioScsiModel(ScsiModelOptions.builder().name("scsi").requestQueues(1).build());
        RamBlockStore lunStore = new RamBlockStore(16384L * 4096, false);
        stores.add(lunStore);
        scsi.addLun(0, 0, ScsiLun.builder(lunStore).blockSize(4096).build());
        Path scsiSocket = dir.resolve("scsi.sock");
        targets.add(VhostUserTarget.builder().name("scsi").socket(scsiSocket).model(scsi).start());

        blkStep = new PciLookalikeStep(Map.of(BLK_ADDRESS, blkSocket), VIRTIO_BLK_F_FLUSH);
        scsiStep = new PciLookalikeStep(Map.of(SCSI_ADDRESS, scsiSocket));
        registry = newRegistry();
    }

    private BdevRegistry newRegistry() {
        TransportAttachStep user = new VhostUserAttachStep(VhostUserOptions.defaults());
        return new BdevRegistry(ControllerTypes.of(
                new BlkControllerType(VirtioBlkOptions.defaults().withHugePages(HugePagePolicy.NEVER), user, blkStep),
                new ScsiControllerType(VirtioScsiOptions.defaults().withHugePages(HugePagePolicy.NEVER), user, scsiStep)));
    }

    @AfterEach
    void stop() {
        registry.close();
        targets.forEach(VhostUserTarget::close);
        stores.forEach(BlockStore::close);
    }

    /** Loads the pci entries as a user may write them: SPDK's short address forms. */
    private void load() {
        new ConfigLoader(registry).loadString("""
                {"subsystems": [{"subsystem": "bdev", "config": [
                  {"method": "bdev_virtio_attach_controller",
                   "params": {"name": "VirtioScsi0", "dev_type": "scsi", "trtype": "pci", "traddr": "0.6.0"}},
                  {"method": "bdev_virtio_attach_controller",
                   "params": {"name": "VirtioBlk0", "dev_type": "blk", "trtype": "pci", "traddr": "00:05.0"}}]}]}
                """);
    }

    private JsonNode reference(String file) {
        JsonNode ref = json("pci/" + file);
        for (JsonNode b : ref) {
            if (b.has("uuid")) {
                replaceStrings(b, b.get("uuid").asText(), registry.uuid(b.get("name").asText()).toString());
            }
        }
        return ref;
    }

    @Test
    void bdevGetBdevsIsSpdksPciShapeFieldByFieldAndInOrder() {
        load();
        JsonNode ref = reference("bdev_get_bdevs.json");
        assertSameJson(ref.get(0), BdevJson.bdevInfo(registry.attachedBdev("VirtioBlk0")));
        assertSameJson(ref.get(1), BdevJson.bdevInfo(registry.attachedBdev("VirtioScsi0t0")));
        assertEquals(List.of("VirtioScsi0 0000:00:06.0"), scsiStep.attaches, "the short form parsed as SPDK does");
        assertEquals(List.of("VirtioBlk0 0000:00:05.0"), blkStep.attaches);
    }

    @Test
    void scsiGetDevicesIsSpdksPciShape() {
        load();
        assertSameJson(json("pci/bdev_virtio_scsi_get_devices.json"), BdevJson.virtioScsiGetDevices(registry));
    }

    @Test
    void saveConfigWritesTheNormalizedAddressAndNoQueueParams() {
        load();
        assertSameJson(json("pci/save_config.json"), SaveConfig.saveConfig(registry));
    }

    @Test
    void loadSaveLoadGivesTheSameJson() {
        load();
        JsonNode saved = SaveConfig.saveConfig(registry);
        JsonNode dump = BdevJson.bdevGetBdevs(registry);
        registry.close();
        registry = newRegistry();
        new ConfigLoader(registry).load(saved);
        assertSameJson(saved, SaveConfig.saveConfig(registry));
        JsonNode again = BdevJson.bdevGetBdevs(registry);
        for (JsonNode b : dump) {
            replaceStrings(again, registry.uuid(b.get("name").asText()).toString(), b.get("uuid").asText());
        }
        assertSameJson(dump, again);
    }

    @Test
    void reconnectParamsOnAPciControllerAreKeptAndNeverAct() {
        new ConfigLoader(registry).loadString("""
                [{"method": "bdev_virtio_attach_controller",
                  "params": {"name": "VirtioBlk0", "dev_type": "blk", "trtype": "pci", "traddr": "0000:00:05.0",
                             "ctrlr_loss_timeout_sec": 30, "reconnect_delay_sec": 1}}]
                """);
        Controller c = registry.controllers().getFirst();
        assertEquals(30, c.device().orElseThrow().reconnectPolicy().ctrlrLossTimeoutSec());
        assertNull(c.device().orElseThrow().transportLost());
        assertEquals("{\"name\":\"VirtioBlk0\",\"dev_type\":\"blk\",\"trtype\":\"pci\",\"traddr\":\"0000:00:05.0\","
                + "\"ctrlr_loss_timeout_sec\":30,\"reconnect_delay_sec\":1,\"fast_io_fail_timeout_sec\":0}", SpdkJson.compact(c.configParams().toJson()));
    }
}
