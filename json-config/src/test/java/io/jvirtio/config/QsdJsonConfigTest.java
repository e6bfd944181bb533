package io.jvirtio.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.IoType;
import io.jvirtio.core.testing.RequiresQemuStorageDaemon;
import io.jvirtio.testkit.QemuStorageDaemon;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static io.jvirtio.config.TestJson.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * json-config against a real vhost-user-blk target: qemu-storage-daemon exporting a 64 MiB file with
 * 512 B blocks (131072 blocks, as the SPDK reference's VirtioBlk0), 2 queues. Each test has its own
 * registry and closes it: the daemon serves one front-end at a time.
 */
@RequiresQemuStorageDaemon
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class QsdJsonConfigTest {
    private static final long IMAGE_BYTES = 64L << 20;
    private static final String SPDK_BLK_SOCKET = "/var/tmp/vhost.blk0";
    private static final String SPDK_SCSI_SOCKET = "/var/tmp/vhost.scsi0";

    @TempDir
    Path dir;

    private QemuStorageDaemon qsd;
    private String socket;
    private BdevRegistry registry;

    @BeforeAll
    void start(@TempDir Path imageDir) throws Exception {
        Path image = imageDir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(IMAGE_BYTES);
        }
        qsd = QemuStorageDaemon.file(image).numQueues(2).start();
        socket = qsd.socketPath().toString();
    }

    @AfterAll
    void stop() {
        if (qsd != null) {
            qsd.close();
        }
    }

    @AfterEach
    void closeRegistry() {
        if (registry != null) {
            registry.close();
        }
        assertTrue(qsd.isAlive(), "qemu-storage-daemon still runs: " + qsd.output());
    }

    private BdevRegistry registry() {
        registry = new BdevRegistry();
        return registry;
    }

    /** SPDK's save_config.json with SPDK's sockets rewritten to the daemon's. */
    private JsonNode spdkSaveConfigOnQsd() {
        JsonNode config = json("save_config.json");
        replaceStrings(config, SPDK_BLK_SOCKET, socket);
        replaceStrings(config, SPDK_SCSI_SOCKET, socket);
        return config;
    }

    /** Its blk-only subset: the scsi entry removed. */
    private JsonNode blkOnlySpdkSaveConfigOnQsd() {
        JsonNode config = spdkSaveConfigOnQsd();
        removeIf((ArrayNode) bdevSubsystem(config).get("config"), attachOf("scsi"));
        return config;
    }

    private Path write(String name, JsonNode json) {
        Path f = dir.resolve(name);
        SpdkJson.write(json, f);
        return f;
    }

    @Test
    void aConfigNamingTheSocketAttachesTheBdevWithItsSize() {
        LoadResult r = registry().load(write("blk.json", blkOnlySpdkSaveConfigOnQsd()));
        assertEquals(List.of("VirtioBlk0"), r.attachedControllers());
        assertEquals(List.of("VirtioBlk0"), r.bdevs());
        Bdev bdev = registry.bdev("VirtioBlk0");
        assertEquals(512, bdev.blockSize());
        assertEquals(IMAGE_BYTES / 512, bdev.blockCount());
        assertEquals(131072, bdev.blockCount(), "the reference's num_blocks");
    }

    @Test
    void bdevGetBdevsMatchesSpdksVirtioBlk0FieldByField() {
        registry().load(write("blk.json", blkOnlySpdkSaveConfigOnQsd()));
        AttachedBdev b = registry.attachedBdev("VirtioBlk0");
        ObjectNode expected = (ObjectNode) json("bdev_get_bdevs.json").get(0);
        replaceStrings(expected, expected.get("uuid").asText(), b.uuid().toString());
        replaceStrings(expected, SPDK_BLK_SOCKET, socket);
        // qemu-storage-daemon offers VIRTIO_BLK_F_FLUSH; the SPDK vhost-blk device the reference was taken from did not.
        assertTrue(b.bdev().supports(IoType.FLUSH));
        ((ObjectNode) expected.get("supported_io_types")).put("flush", true);
        assertSameJson(JsonNodeFactory.instance.arrayNode().add(expected), BdevJson.bdevGetBdevs(registry));

        JsonNode rpcAnswer = SpdkJson.parse(new JsonRpc(registry).handle(text("rpc/bdev_get_bdevs.request.json")), null);
        assertSameJson(expected, rpcAnswer.get("result").get(0));
    }

    @Test
    void saveConfigMatchesSpdksEntryForTheController() {
        registry().load(write("blk.json", blkOnlySpdkSaveConfigOnQsd()));
        ArrayNode expected = (ArrayNode) json("framework_get_config_bdev.json");
        removeIf(expected, e -> !attachOf("blk").test(e) && !method(SaveConfig.WAIT_FOR_EXAMINE).test(e));
        replaceStrings(expected, SPDK_BLK_SOCKET, socket);
        assertSameJson(expected, SaveConfig.bdevConfig(registry));
    }

    @Test
    void loadSaveLoadIntoAFreshRegistryGivesTheSameControllersAndBdevs() {
        registry().load(write("blk.json", blkOnlySpdkSaveConfigOnQsd()));
        JsonNode saved = SaveConfig.saveConfig(registry);
        Path savedFile = write("saved.json", saved);
        JsonNode dump = BdevJson.bdevGetBdevs(registry);
        String oldUuid = registry.uuid("VirtioBlk0").toString();
        registry.close();

        LoadResult r = registry().load(savedFile);
        assertEquals(List.of("VirtioBlk0"), r.attachedControllers());
        assertSameJson(saved, SaveConfig.saveConfig(registry));
        String newUuid = registry.uuid("VirtioBlk0").toString();
        assertNotEquals(oldUuid, newUuid, "a new attach generates a new uuid");
        assertSameJson(dump, replaceStrings(BdevJson.bdevGetBdevs(registry), newUuid, oldUuid));
    }

    @Test
    void spdksOwnSaveConfigFailsOnItsScsiEntryAndAttachesNothing() {
        // Both of SPDK's sockets point at the daemon, a vhost-user-blk device: the scsi entry (the first
        // attach) reads the blk config space as virtio_scsi_config, which it refuses before starting a queue.
        Path file = write("spdk.json", spdkSaveConfigOnQsd());
        ConfigException e = assertThrows(ConfigException.class, () -> registry().load(file));
        assertEquals("subsystems[4].config[2].params", e.jsonPath().toString());
        assertTrue(e.getMessage().startsWith(file + ": subsystems[4].config[2].params: cannot attach VirtioScsi0 (dev_type scsi, trtype user, traddr \""
                + socket + "\"): VirtioScsi0: virtio_scsi_config."), e.getMessage());
        assertTrue(registry.controllers().isEmpty());
        // The scsi attempt let go of the daemon: the blk-only subset attaches right away.
        assertEquals(List.of("VirtioBlk0"), new ConfigLoader(registry).load(blkOnlySpdkSaveConfigOnQsd()).attachedControllers());
    }

    @Test
    void aFailedLoadDetachesWhatItAttachedAndFreesTheTarget() throws Exception {
        Path missing = dir.resolve("missing.sock");
        ObjectNode config = (ObjectNode) blkOnlySpdkSaveConfigOnQsd();
        ArrayNode entries = (ArrayNode) bdevSubsystem(config).get("config");
        ObjectNode bad = entries.insertObject(entries.size() - 1);
        bad.put("method", ControllerParams.METHOD);
        bad.set("params", ControllerParams.user("Bad0", "blk", missing).toJson());
        int badIndex = entries.size() - 2;
        Path file = write("partly-bad.json", config);

        ConfigException e = assertThrows(ConfigException.class, () -> registry().load(file));
        String at = "subsystems[4].config[" + badIndex + "].params.traddr";
        assertEquals(at, e.jsonPath().toString());
        assertTrue(e.getMessage().startsWith(file + ": " + at + ": \"" + missing + "\": cannot attach Bad0: cannot connect to vhost-user socket "
                + missing + ": the file does not exist"), e.getMessage());
        assertTrue(e.getMessage().endsWith("(load undone: detached VirtioBlk0 again)"), e.getMessage());
        assertTrue(registry.controllers().isEmpty());
        // VirtioBlk0 really let go of the daemon, which serves one front-end at a time.
        assertEquals(List.of("VirtioBlk0"), registry.attachController(ControllerParams.user("VirtioBlk0", "blk", qsd.socketPath(), 1, 128)));
    }

    @Test
    void twoRequestQueuesShowInDumpAndSave() {
        registry().attachController(ControllerParams.user("VirtioBlk0", "blk", qsd.socketPath(), 2, 256));
        JsonNode virtio = BdevJson.bdevGetBdevs(registry).get(0).get("driver_specific").get("virtio");
        assertEquals("{\"vq_count\":2,\"vq_size\":256,\"type\":\"user\",\"socket\":\"" + socket + "\"}", SpdkJson.compact(virtio));
        JsonNode params = SaveConfig.bdevConfig(registry).get(0).get("params");
        assertEquals(2, params.get("vq_count").intValue());
        assertEquals(256, params.get("vq_size").intValue());
    }

    @Test
    void moreRequestQueuesThanTheDeviceHasIsAnErrorNamingBoth() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> registry().attachController(ControllerParams.user("VirtioBlk0", "blk", qsd.socketPath(), 4, 128)));
        assertTrue(e.getMessage().contains("4 request queues requested, the device has 2"), e.getMessage());
        assertTrue(registry.controllers().isEmpty());
        assertEquals(List.of("VirtioBlk0"), registry.attachController(ControllerParams.user("VirtioBlk0", "blk", qsd.socketPath(), 2, 128)));
    }

    @Test
    void spdksRpcRequestsAgainstTheDaemon() {
        JsonRpc rpc = new JsonRpc(registry());
        String attach = text("rpc/attach_blk.request.json").replace(SPDK_BLK_SOCKET, socket);
        assertEquals(text("rpc/attach_blk.response.raw.json").strip(), rpc.handle(attach));
        JsonNode dup = SpdkJson.parse(rpc.handle(attach), null);
        assertEquals(JsonRpc.INVALID_PARAMS, dup.get("error").get("code").intValue());
        assertTrue(dup.get("error").get("message").asText().startsWith("params.name: \"VirtioBlk0\" is already in use"), dup.toString());
        assertEquals(text("rpc/detach_blk.response.raw.json").strip(), rpc.handle(text("rpc/detach_blk.request.json")));
        assertTrue(registry.controllers().isEmpty());
    }

    @Test
    void theSavedFileIsWhatSpdkWouldRead() throws Exception {
        registry().load(write("blk.json", blkOnlySpdkSaveConfigOnQsd()));
        Path out = dir.resolve("out.json");
        SaveConfig.write(registry, out);
        String expected = SpdkJson.format(SaveConfig.saveConfig(registry));
        assertEquals(expected, Files.readString(out));
        assertTrue(expected.contains("\"traddr\": \"" + socket + "\""), expected);
    }
}
