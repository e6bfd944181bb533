package io.jvirtio.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.blk.VirtioBlkModel;
import io.jvirtio.backend.scsi.ScsiLun;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import io.jvirtio.backend.scsi.VirtioScsiModel;
import io.jvirtio.backend.store.BlockStore;
import io.jvirtio.backend.store.RamBlockStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.jvirtio.config.TestJson.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * dev_type scsi through the discovered controller types against jvirtio's Java vhost-user targets (in
 * this process): a scsi controller with 2 targets × 2 LUNs (512 and 4096 B blocks) and a blk device.
 */
class JavaTargetScsiJsonConfigTest {
    /** Request queues the scsi target offers: more than the config asks for, so a scan queue is kept. */
    private static final int TARGET_REQUEST_QUEUES = 4;
    private static final int VQ_COUNT = 2;
    private static final int VQ_SIZE = 128;
    /** control + event + VQ_COUNT request queues + the dedicated scan queue. */
    private static final int ALL_SCSI_QUEUES = 2 + VQ_COUNT + 1;

    /** name, block size, blocks of each LUN, as the scan names them. */
    private static final List<Object[]> LUNS = List.of(
            new Object[]{"VirtioScsi0t0", 0, 0, 512, 4096L},
            new Object[]{"VirtioScsi0t0l1", 0, 1, 4096, 256L},
            new Object[]{"VirtioScsi0t1", 1, 0, 4096, 512L},
            new Object[]{"VirtioScsi0t1l1", 1, 1, 512, 8192L});
    private static final long BLK_BYTES = 8L << 20;

    @TempDir
    Path dir;

    private final List<BlockStore> stores = new ArrayList<>();
    private VhostUserTarget scsiTarget;
    private VhostUserTarget blkTarget;
    private Path scsiSocket;
    private Path blkSocket;
    private BdevRegistry registry;

    @BeforeEach
    void start() {
        VirtioScsiModel model = new VirtioScsiModel(ScsiModelOptions.builder().name("scsi0").requestQueues(TARGET_REQUEST_QUEUES).build());
        for (Object[] l : LUNS) {
            RamBlockStore store = new RamBlockStore((int) l[3] * (long) l[4], false);
            stores.add(store);
            model.addLun((int) l[1], (int) l[2], ScsiLun.builder(store).blockSize((int) l[3]).build());
        }
        scsiSocket = dir.resolve("scsi0.sock");
        scsiTarget = VhostUserTarget.builder().name("scsi0").socket(scsiSocket).model(model).start();

        RamBlockStore blkStore = new RamBlockStore(BLK_BYTES, false);
        stores.add(blkStore);
        blkSocket = dir.resolve("blk0.sock");
        blkTarget = VhostUserTarget.builder().name("blk0").socket(blkSocket)
                .model(new VirtioBlkModel("blk0", blkStore, BlkModelOptions.builder().numQueues(2).build())).start();
    }

    @AfterEach
    void stop() {
        if (registry != null) {
            registry.close();
        }
        if (scsiTarget != null) {
            scsiTarget.close();
        }
        if (blkTarget != null) {
            blkTarget.close();
        }
        stores.forEach(BlockStore::close);
    }

    private JsonNode config() {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        ObjectNode bdev = root.putArray("subsystems").addObject();
        bdev.put("subsystem", "bdev");
        ArrayNode entries = bdev.putArray("config");
        entries.addObject().put("method", ControllerParams.METHOD)
                .set("params", ControllerParams.user("VirtioScsi0", "scsi", scsiSocket, VQ_COUNT, VQ_SIZE).toJson());
        entries.addObject().put("method", ControllerParams.METHOD)
                .set("params", ControllerParams.user("VirtioBlk0", "blk", blkSocket, 1, VQ_SIZE).toJson());
        entries.addObject().put("method", SaveConfig.WAIT_FOR_EXAMINE);
        return root;
    }

    private Path write(String name, JsonNode json) {
        Path f = dir.resolve(name);
        SpdkJson.write(json, f);
        return f;
    }

    private static Map<String, JsonNode> byName(JsonNode bdevs) {
        Map<String, JsonNode> m = new LinkedHashMap<>();
        bdevs.forEach(b -> m.put(b.get("name").asText(), b));
        return m;
    }

    @Test
    void scsiLunsShowInBdevGetBdevsAndSaveConfigWritesRequestQueuesOnly() {
        registry = new BdevRegistry();
        LoadResult r = registry.load(write("config.json", config()));
        assertEquals(List.of("VirtioScsi0", "VirtioBlk0"), r.attachedControllers());
        assertEquals(List.of("VirtioScsi0t0", "VirtioScsi0t0l1", "VirtioScsi0t1", "VirtioScsi0t1l1", "VirtioBlk0"), r.bdevs());

        Map<String, JsonNode> bdevs = byName(BdevJson.bdevGetBdevs(registry));
        assertEquals(5, bdevs.size(), bdevs.keySet().toString());
        for (Object[] l : LUNS) {
            JsonNode b = bdevs.get((String) l[0]);
            assertNotNull(b, l[0] + " in " + bdevs.keySet());
            assertEquals((int) l[3], b.get("block_size").intValue(), l[0] + " block_size");
            assertEquals((long) l[4], b.get("num_blocks").longValue(), l[0] + " num_blocks");
            assertEquals("Virtio SCSI Disk", b.get("product_name").asText());
            assertEquals("{\"vq_count\":" + ALL_SCSI_QUEUES + ",\"vq_size\":" + VQ_SIZE + ",\"type\":\"user\",\"socket\":\"" + scsiSocket + "\"}",
                    SpdkJson.compact(b.get("driver_specific").get("virtio")), l[0] + ": vq_count counts every queue of the controller");
        }
        JsonNode blk = bdevs.get("VirtioBlk0");
        assertEquals(512, blk.get("block_size").intValue());
        assertEquals(BLK_BYTES / 512, blk.get("num_blocks").longValue());
        assertEquals(1, blk.get("driver_specific").get("virtio").get("vq_count").intValue());

        // save_config: the entries as loaded, vq_count the request queues only (as SPDK).
        JsonNode saved = SaveConfig.bdevConfig(registry);
        JsonNode expected = config().get("subsystems").get(0).get("config");
        assertSameJson(expected, saved);
        assertEquals(VQ_COUNT, saved.get(0).get("params").get("vq_count").intValue());
    }

    @Test
    void loadSaveLoadGivesTheSameControllersAndBdevs() {
        registry = new BdevRegistry();
        registry.load(write("config.json", config()));
        JsonNode saved = SaveConfig.saveConfig(registry);
        Path savedFile = write("saved.json", saved);
        JsonNode dump = BdevJson.bdevGetBdevs(registry);
        Map<String, String> oldUuids = new LinkedHashMap<>();
        byName(dump).keySet().forEach(n -> oldUuids.put(n, registry.uuid(n).toString()));
        registry.close();

        registry = new BdevRegistry();
        LoadResult r = registry.load(savedFile);
        assertEquals(List.of("VirtioScsi0", "VirtioBlk0"), r.attachedControllers());
        assertSameJson(saved, SaveConfig.saveConfig(registry));
        JsonNode again = BdevJson.bdevGetBdevs(registry);
        for (Map.Entry<String, String> e : oldUuids.entrySet()) {
            String newUuid = registry.uuid(e.getKey()).toString();
            assertNotEquals(e.getValue(), newUuid, "a new attach generates a new uuid");
            replaceStrings(again, newUuid, e.getValue());
        }
        assertSameJson(dump, again);
    }
}
