package io.jvirtio.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static io.jvirtio.config.TestJson.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Our JSON against SPDK 24.01's own output (src/test/resources/spdk-json), field by field and in order,
 * uuids aside. The controllers are fakes set up as the devices SPDK dumped (VirtioBlk0: 131072 x 512 B,
 * no flush; VirtioScsi0t0: 16384 x 4096 B); the same comparisons run against qemu-storage-daemon in
 * {@link QsdJsonConfigTest}. A fake scsi type stands in for the coming scsi module: it plugs in through
 * {@link ControllerType} alone.
 */
class GoldenJsonTest {
    private final FakeControllerType blk = FakeControllerType.blk();
    private final FakeControllerType scsi = FakeControllerType.scsi();
    private final BdevRegistry registry = new BdevRegistry(ControllerTypes.of(blk, scsi));

    @AfterEach
    void close() {
        registry.close();
    }

    /** Attaches what SPDK had attached when it wrote the reference files, in SPDK's attach order. */
    private void attachLikeSpdk() {
        new ConfigLoader(registry).load(json("save_config.json"));
    }

    /** The reference with its uuids replaced by ours. */
    private JsonNode referenceBdevs() {
        JsonNode ref = json("bdev_get_bdevs.json");
        for (JsonNode b : ref) {
            replaceStrings(b, b.get("uuid").asText(), registry.uuid(b.get("name").asText()).toString());
        }
        return ref;
    }

    private static ArrayNode withoutGenericEntries(ArrayNode config) {
        return removeIf(config, e -> !e.get("method").asText().equals(ControllerParams.METHOD)
                && !e.get("method").asText().equals(SaveConfig.WAIT_FOR_EXAMINE));
    }

    @ParameterizedTest
    @ValueSource(strings = {"bdev_get_bdevs.json", "save_config.json", "save_subsystem_config_bdev.json",
            "framework_get_config_bdev.json", "bdev_virtio_scsi_get_devices.json"})
    void ourFormatIsSpdksToTheByte(String file) {
        assertEquals(text(file), SpdkJson.format(json(file)));
    }

    @Test
    void bdevGetBdevsMatchesSpdkFieldByFieldAndInOrder() {
        attachLikeSpdk();
        // SPDK lists bdevs in registration order: its blk bdev registered first, then the scsi LUN after the scan.
        JsonNode ref = referenceBdevs();
        assertSameJson(ref.get(0), BdevJson.bdevInfo(registry.attachedBdev("VirtioBlk0")));
        assertSameJson(ref.get(1), BdevJson.bdevInfo(registry.attachedBdev("VirtioScsi0t0")));
        assertSameJson(JsonNodeFactory.instance.arrayNode().add(ref.get(0)), BdevJson.bdevGetBdevs(registry, "VirtioBlk0"));
        assertSameJson(JsonNodeFactory.instance.arrayNode().add(ref.get(0)),
                BdevJson.bdevGetBdevs(registry, registry.uuid("VirtioBlk0").toString()));
    }

    @Test
    void scsiGetDevicesMatchesSpdk() {
        attachLikeSpdk();
        assertSameJson(json("bdev_virtio_scsi_get_devices.json"), BdevJson.virtioScsiGetDevices(registry));
    }

    @Test
    void everySupportedIoTypeKeyIsPresent() {
        registry.attachController(ControllerParams.user("B", "blk", java.nio.file.Path.of("/b")));
        JsonNode types = BdevJson.bdevInfo(registry.attachedBdev("B")).get("supported_io_types");
        assertEquals(BdevJson.SPDK_IO_TYPES, List.copyOf(iterable(types)));
        assertTrue(types.get("read").booleanValue());
        assertFalse(types.get("flush").booleanValue());
        assertFalse(types.get("nvme_io").booleanValue());
    }

    private static List<String> iterable(JsonNode n) {
        java.util.ArrayList<String> out = new java.util.ArrayList<>();
        n.fieldNames().forEachRemaining(out::add);
        return out;
    }

    @Test
    void saveConfigHasSpdksVirtioEntriesInSpdksShape() {
        attachLikeSpdk();
        ArrayNode expectedConfig = withoutGenericEntries((ArrayNode) json("framework_get_config_bdev.json"));
        assertSameJson(expectedConfig, SaveConfig.bdevConfig(registry));

        ObjectNode expectedSubsystem = (ObjectNode) json("save_subsystem_config_bdev.json");
        withoutGenericEntries((ArrayNode) expectedSubsystem.get("config"));
        assertSameJson(expectedSubsystem, SaveConfig.subsystemConfig(registry));

        ObjectNode expectedSave = (ObjectNode) json("save_config.json");
        ArrayNode subsystems = (ArrayNode) expectedSave.get("subsystems");
        removeIf(subsystems, s -> !s.get("subsystem").asText().equals("bdev"));
        withoutGenericEntries((ArrayNode) subsystems.get(0).get("config"));
        assertSameJson(expectedSave, SaveConfig.saveConfig(registry));
    }

    @Test
    void anEmptyRegistrySavesTheBdevSubsystemWithWaitForExamineOnly() {
        assertEquals("{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[{\"method\":\"bdev_wait_for_examine\"}]}]}",
                SpdkJson.compact(SaveConfig.saveConfig(registry)));
    }

    @Test
    void loadSaveLoadGivesTheSameControllersAndBdevs() {
        attachLikeSpdk();
        JsonNode saved = SaveConfig.saveConfig(registry);
        JsonNode dump = BdevJson.bdevGetBdevs(registry);
        try (BdevRegistry fresh = new BdevRegistry(ControllerTypes.of(FakeControllerType.blk(), FakeControllerType.scsi()))) {
            new ConfigLoader(fresh).load(saved);
            assertSameJson(saved, SaveConfig.saveConfig(fresh));
            assertEquals(registry.controllerNames(), fresh.controllerNames());
            JsonNode freshDump = BdevJson.bdevGetBdevs(fresh);
            for (AttachedBdev b : fresh.attachedBdevs()) {
                assertNotEquals(registry.uuid(b.name()), b.uuid(), "a new attach generates a new uuid");
                replaceStrings(freshDump, b.uuid().toString(), registry.uuid(b.name()).toString());
            }
            assertSameJson(dump, freshDump);
        }
    }
}
