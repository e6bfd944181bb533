package io.jvirtio.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static io.jvirtio.config.TestJson.*;
import static org.junit.jupiter.api.Assertions.*;

/** Loading SPDK's config shape into a registry of fake controller types: methods, order, rollback, bad input. */
class ConfigLoaderTest {
    private final FakeControllerType blk = FakeControllerType.blk();
    private final FakeControllerType scsi = FakeControllerType.scsi();
    private BdevRegistry registry = new BdevRegistry(ControllerTypes.of(blk));

    @AfterEach
    void close() {
        registry.close();
        assertEquals(0, blk.open.get() + scsi.open.get(), "every controller closed");
    }

    private LoadResult load(String json) {
        return new ConfigLoader(registry).loadString(json);
    }

    private ConfigException refused(String json) {
        ConfigException e = assertThrows(ConfigException.class, () -> load(json));
        assertTrue(registry.controllers().isEmpty(), "nothing attached after " + e.getMessage());
        return e;
    }

    private static String attach(String name, String traddr) {
        return "{\"method\": \"bdev_virtio_attach_controller\", \"params\": {\"name\": \"" + name + "\", \"dev_type\": \"blk\","
                + " \"trtype\": \"user\", \"traddr\": \"" + traddr + "\", \"vq_count\": 1, \"vq_size\": 128}}";
    }

    private static String detach(String name) {
        return "{\"method\": \"bdev_virtio_detach_controller\", \"params\": {\"name\": \"" + name + "\"}}";
    }

    private static String bdevConfig(String... entries) {
        return "{\"subsystems\": [{\"subsystem\": \"bdev\", \"config\": [" + String.join(", ", entries) + "]}]}";
    }

    // ------------------------------------------------------------------ SPDK's own file

    @Test
    void spdksSaveConfigFailsOnItsScsiEntryUntilScsiExists() {
        ConfigException e = assertThrows(ConfigException.class, () -> new ConfigLoader(registry).load(json("save_config.json")));
        assertEquals("subsystems[4].config[2].params.dev_type", e.jsonPath().toString());
        assertTrue(e.getMessage().startsWith("subsystems[4].config[2].params.dev_type: dev_type scsi is not available"), e.getMessage());
        assertTrue(blk.events.isEmpty(), "the whole file is checked before anything attaches: " + blk.events);
    }

    @Test
    void theDiscoveredTypesTakeScsiAndFailAtItsMissingSocketAttachingNothing() {
        registry = new BdevRegistry();
        ConfigException e = assertThrows(ConfigException.class, () -> registry.load(java.nio.file.Path.of("/nonexistent-dir/none.json")));
        assertEquals("/nonexistent-dir/none.json: config file not found (no such file)", e.getMessage());
        // SPDK's file passes validation with the discovered types (blk and scsi) and fails at its first
        // attach, the scsi entry, whose socket does not exist here.
        String scsiSocket = "/var/tmp/vhost.scsi0";
        assertFalse(java.nio.file.Files.exists(java.nio.file.Path.of(scsiSocket)), scsiSocket + " must not exist for this test");
        e = assertThrows(ConfigException.class, () -> new ConfigLoader(registry).load(json("save_config.json")));
        assertEquals("subsystems[4].config[2].params.traddr", e.jsonPath().toString());
        assertTrue(e.getMessage().startsWith("subsystems[4].config[2].params.traddr: \"" + scsiSocket + "\": cannot attach VirtioScsi0: "
                + "cannot connect to vhost-user socket " + scsiSocket), e.getMessage());
        assertTrue(registry.controllers().isEmpty(), "nothing attached");
    }

    @Test
    void spdksSaveConfigWithoutTheScsiEntryLoads() {
        JsonNode config = json("save_config.json");
        removeIf((ArrayNode) bdevSubsystem(config).get("config"), attachOf("scsi"));
        LoadResult r = new ConfigLoader(registry).load(config);
        assertEquals(List.of("VirtioBlk0"), r.attachedControllers());
        assertEquals(List.of("VirtioBlk0"), r.bdevs());
        assertTrue(r.skipped().isEmpty());
        assertEquals(new ControllerParams("VirtioBlk0", "blk", Transport.USER, "/var/tmp/vhost.blk0", 1, 128),
                registry.controller("VirtioBlk0").configParams());
    }

    @Test
    void withAScsiTypeRegisteredSpdksWholeFileLoadsInOrder() {
        registry = new BdevRegistry(ControllerTypes.of(blk, scsi));
        LoadResult r = new ConfigLoader(registry).load(json("save_config.json"));
        assertEquals(List.of("VirtioScsi0", "VirtioBlk0"), r.attachedControllers());
        assertEquals(List.of("VirtioScsi0t0", "VirtioBlk0"), r.bdevs());
    }

    @Test
    void theOtherShapesSpdkPrintsLoadToo() {
        JsonNode subsystem = json("save_subsystem_config_bdev.json");
        removeIf((ArrayNode) subsystem.get("config"), attachOf("scsi"));
        assertEquals(List.of("VirtioBlk0"), new ConfigLoader(registry).load(subsystem).attachedControllers());
        registry.detachController("VirtioBlk0");

        ArrayNode array = (ArrayNode) json("framework_get_config_bdev.json");
        ConfigException e = assertThrows(ConfigException.class, () -> new ConfigLoader(registry).load(array));
        assertEquals("[2].params.dev_type", e.jsonPath().toString());
        removeIf(array, attachOf("scsi"));
        assertEquals(List.of("VirtioBlk0"), new ConfigLoader(registry).load(array).attachedControllers());
    }

    // ------------------------------------------------------------------ methods

    @Test
    void methodsThatCreateOtherBdevsAreErrorsNamingMethodAndPath() {
        ConfigException e = refused(bdevConfig(attach("A", "/a"),
                "{\"method\": \"bdev_malloc_create\", \"params\": {\"name\": \"Malloc0\", \"num_blocks\": 8, \"block_size\": 512}}"));
        assertEquals("subsystems[0].config[1].method", e.jsonPath().toString());
        assertTrue(e.getMessage().startsWith("subsystems[0].config[1].method: \"bdev_malloc_create\" creates bdevs jvirtio cannot make"),
                e.getMessage());
        assertTrue(e.getMessage().contains("LoadOptions.skippingUnsupportedMethods()"), e.getMessage());
        assertTrue(blk.events.isEmpty());
    }

    @ParameterizedTest
    @CsvSource({"bdev_nvme_attach_controller", "bdev_aio_create", "bdev_null_create", "bdev_raid_create", "bdev_set_qos_limit"})
    void otherUnsupportedMethods(String method) {
        ConfigException e = refused(bdevConfig("{\"method\": \"" + method + "\", \"params\": {\"name\": \"X\"}}"));
        assertTrue(e.getMessage().startsWith("subsystems[0].config[0].method: \"" + method + "\" "), e.getMessage());
    }

    @Test
    void theSkipOptionSkipsThemWithAWarning() {
        String config = bdevConfig(attach("A", "/a"),
                "{\"method\": \"bdev_malloc_create\", \"params\": {\"name\": \"Malloc0\", \"num_blocks\": 8, \"block_size\": 512}}",
                "{\"method\": \"bdev_nvme_set_hotplug\", \"params\": {\"period_us\": 100000, \"enable\": true}}");
        LoadResult r = new ConfigLoader(registry, LoadOptions.skippingUnsupportedMethods()).loadString(config);
        assertEquals(List.of("A"), r.attachedControllers());
        assertEquals(List.of("subsystems[0].config[1]", "subsystems[0].config[2]"), r.skipped().stream().map(LoadResult.Skipped::path).toList());
        assertEquals(List.of("bdev_malloc_create", "bdev_nvme_set_hotplug"), r.skipped().stream().map(LoadResult.Skipped::method).toList());
    }

    @Test
    void unknownMethodsAreErrorsEvenWhenSkipping() {
        String config = bdevConfig("{\"method\": \"bdev_virtio_attach_controler\", \"params\": {}}");
        ConfigException e = assertThrows(ConfigException.class,
                () -> new ConfigLoader(registry, LoadOptions.skippingUnsupportedMethods()).loadString(config));
        assertEquals("subsystems[0].config[0].method: \"bdev_virtio_attach_controler\" is not a bdev method jvirtio knows"
                + " (did you mean \"bdev_virtio_attach_controller\"?)", e.getMessage());
        e = refused(bdevConfig("{\"method\": \"frobnicate\"}"));
        assertEquals("subsystems[0].config[0].method: \"frobnicate\" is not a bdev method jvirtio knows", e.getMessage());
    }

    @Test
    void hotplugIsANoOpOnlyWhileOff() {
        load(bdevConfig("{\"method\": \"bdev_nvme_set_hotplug\", \"params\": {\"period_us\": 100000, \"enable\": false}}",
                "{\"method\": \"bdev_virtio_blk_set_hotplug\", \"params\": {\"enable\": false}}"));
        ConfigException e = refused(bdevConfig("{\"method\": \"bdev_virtio_blk_set_hotplug\", \"params\": {\"enable\": true}}"));
        assertTrue(e.getMessage().startsWith("subsystems[0].config[0].method: \"bdev_virtio_blk_set_hotplug\" with \"enable\": true turns on"),
                e.getMessage());
    }

    @Test
    void otherSubsystemsAreIgnored() {
        LoadResult r = load("{\"subsystems\": [{\"subsystem\": \"iobuf\", \"config\": [{\"method\": \"iobuf_set_options\", \"params\": {}}]},"
                + " {\"subsystem\": \"vhost_blk\", \"config\": [{\"whatever\": 1}]}, {\"subsystem\": \"nbd\", \"config\": null},"
                + " {\"subsystem\": \"bdev\", \"config\": [" + attach("A", "/a") + "]}]}");
        assertEquals(List.of("A"), r.attachedControllers());
        assertTrue(load("{\"subsystems\": null}").attachedControllers().isEmpty());
        assertTrue(load("{\"subsystems\": []}").attachedControllers().isEmpty());
    }

    // ------------------------------------------------------------------ order, names, rollback

    @Test
    void attachAndDetachRunInOrder() {
        registry.attachController(ControllerParams.user("Old", "blk", java.nio.file.Path.of("/old")));
        LoadResult r = load(bdevConfig(attach("A", "/a"), detach("A"), detach("Old"), attach("A", "/a2"), attach("Old", "/old2")));
        assertEquals(List.of("A", "Old"), r.attachedControllers());
        assertEquals(List.of("Old"), r.detachedControllers());
        assertEquals("/a2", registry.controller("A").configParams().traddr());
        assertEquals(List.of("attach Old", "attach A", "close A", "close Old", "attach A", "attach Old"), blk.events);
    }

    @Test
    void aFailedEntryDetachesWhatTheLoadAttachedNewestFirst() {
        registry.attachController(ControllerParams.user("Before", "blk", java.nio.file.Path.of("/before")));
        blk.failingTraddrs.add("/dead");
        ConfigException e = assertThrows(ConfigException.class, () -> load(bdevConfig(attach("A", "/a"), attach("B", "/b"), attach("C", "/dead"))));
        assertEquals("subsystems[0].config[2].params", e.jsonPath().toString());
        assertEquals("subsystems[0].config[2].params: cannot attach C (dev_type blk, trtype user, traddr \"/dead\"): simulated failure"
                + " connecting to /dead (load undone: detached B, A again)", e.getMessage());
        assertEquals(List.of("attach Before", "attach A", "attach B", "attach C", "close B", "close A"), blk.events);
        assertEquals(List.of("Before"), registry.controllerNames(), "what was attached before the load stays");
    }

    @Test
    void duplicateNamesInOneFileAreRefusedBeforeAnythingAttaches() {
        ConfigException e = refused(bdevConfig(attach("A", "/a"), attach("A", "/b")));
        assertEquals("subsystems[0].config[1].params.name: \"A\" is already attached by subsystems[0].config[0] of this config;"
                + " detach it first or choose another name", e.getMessage());
        assertTrue(blk.events.isEmpty());
    }

    @Test
    void aNameInUseInTheRegistryIsRefusedBeforeAnythingAttaches() {
        registry.attachController(ControllerParams.user("A", "blk", java.nio.file.Path.of("/a")));
        ConfigException e = assertThrows(ConfigException.class, () -> load(bdevConfig(attach("B", "/b"), attach("A", "/a2"))));
        assertTrue(e.getMessage().startsWith("subsystems[0].config[1].params.name: \"A\" is already in use by the attached blk controller A"),
                e.getMessage());
        assertEquals(List.of("attach A"), blk.events);
    }

    @Test
    void detachingWhatIsNotAttachedIsNoSuchDevice() {
        NoSuchDeviceException e = assertThrows(NoSuchDeviceException.class, () -> load(bdevConfig(attach("A", "/a"), detach("Nope"))));
        assertEquals("subsystems[0].config[1].params.name: no controller named \"Nope\" is attached at this point of the config (attached: A)",
                e.getMessage());
        assertTrue(blk.events.isEmpty());
        ConfigException p = refused(bdevConfig("{\"method\": \"bdev_virtio_detach_controller\", \"params\": {\"name\": \"A\", \"force\": true}}"));
        assertTrue(p.getMessage().startsWith("subsystems[0].config[0].params.force: unknown parameter \"force\""), p.getMessage());
    }

    // ------------------------------------------------------------------ bad structure

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "42 | 42 is an integer, not an SPDK JSON config",
            "{\"bdevs\": []} | no \"subsystems\" member (members: bdevs); expected an SPDK JSON config",
            "{\"subsystems\": {}} | subsystems: {} is an object, not an array of subsystems",
            "{\"subsystems\": [], \"extra\": 1} | extra: unknown member \"extra\" (an SPDK JSON config takes subsystems)",
            "{\"subsystems\": [7]} | subsystems[0]: 7 is an integer, not a subsystem",
            "{\"subsystems\": [{\"config\": []}]} | subsystems[0].subsystem: missing; each subsystem names itself",
            "{\"subsystems\": [{\"subsystem\": 1, \"config\": []}]} | subsystems[0].subsystem: 1 is an integer, not a string",
            "{\"subsystems\": [{\"subsystem\": \"bdev\"}]} | subsystems[0].config: missing; subsystem bdev needs",
            "{\"subsystems\": [{\"subsystem\": \"bdev\", \"config\": {}}]} | subsystems[0].config: {} is an object, not an array of config entries",
            "{\"subsystems\": [{\"subsystem\": \"bdev\", \"config\": [[]]}]} | subsystems[0].config[0]: [] is an array, not a config entry",
            "{\"subsystems\": [{\"subsystem\": \"bdev\", \"config\": [{\"params\": {}}]}]} | subsystems[0].config[0].method: missing;",
            "{\"subsystems\": [{\"subsystem\": \"bdev\", \"config\": [{\"method\": 5}]}]} | subsystems[0].config[0].method: 5 is an integer, not a string",
            "{\"subsystems\": [{\"subsystem\": \"bdev\", \"config\": [{\"method\": \"bdev_set_options\", \"id\": 1}]}]} | subsystems[0].config[0].id: unknown member \"id\"",
            "{\"subsystems\": [{\"subsystem\": \"bdev\", \"config\": [{\"method\": \"bdev_set_options\", \"params\": []}]}]} | subsystems[0].config[0].params: [] is an array, not the params of bdev_set_options",
            "{\"subsystems\": [{\"subsystem\": \"bdev\", \"config\": [{\"method\": \"bdev_virtio_attach_controller\"}]}]} | subsystems[0].config[0].params: missing; expected the params of bdev_virtio_attach_controller",
            "[{\"method\": \"bdev_virtio_attach_controller\", \"params\": {\"name\": \"A\", \"dev_type\": \"blk\", \"trtype\": \"user\", \"traddr\": \"/a\", \"vq_size\": 100}}] | [0].params.vq_size: 100 is not a power of two",
    })
    void badStructureIsNamedByPath(String json, String messageStart) {
        ConfigException e = refused(json);
        assertTrue(e.getMessage().startsWith(messageStart), e.getMessage());
    }

    @Test
    void everyParamRuleAppliesWithTheEntrysPath() {
        ConfigException e = refused(bdevConfig("{\"method\": \"bdev_set_options\"}",
                attach("A", "/a").replace("\"vq_size\": 128", "\"vq_size\": 100")));
        assertEquals("subsystems[0].config[1].params.vq_size: 100 is not a power of two", e.getMessage());
        e = refused(bdevConfig(attach("A", "/a").replace("\"trtype\": \"user\"", "\"trtype\": \"pci\"")));
        assertEquals("subsystems[0].config[0].params.vq_count", e.jsonPath().toString());
        e = refused(bdevConfig(attach("A", "/a").replace("\"vq_count\": 1", "\"vq_count\": 1, \"queues\": 2")));
        assertTrue(e.getMessage().startsWith("subsystems[0].config[0].params.queues: unknown parameter \"queues\""), e.getMessage());
        e = refused(bdevConfig("{\"method\": \"bdev_virtio_attach_controller\", \"params\": {\"name\": \"P\", \"dev_type\": \"blk\","
                + " \"trtype\": \"pci\", \"traddr\": \"0000:00:04.0\"}}"));
        assertEquals("subsystems[0].config[0].params.trtype: \"pci\" is not available in the fake", e.getMessage());
    }

    // ------------------------------------------------------------------ JSON text

    @Test
    void malformedJsonNamesLineAndColumn() {
        ConfigException e = refused("{\n  \"subsystems\": [\n    {\"subsystem\": \"bdev\" \"config\": []}\n  ]\n}");
        assertTrue(e.getMessage().startsWith("malformed JSON at line 3, column 26: Unexpected character ('\"'"), e.getMessage());
        e = refused("{\"subsystems\": [], \"subsystems\": []}");
        assertTrue(e.getMessage().contains("Duplicate field 'subsystems'"), e.getMessage());
        e = refused("{\"subsystems\": []} {}");
        assertTrue(e.getMessage().startsWith("malformed JSON at line 1"), e.getMessage());
        e = refused("   ");
        assertTrue(e.getMessage().startsWith("empty input"), e.getMessage());
    }

    @Test
    void commentsAreAllowedAsInSpdk() {
        LoadResult r = load("// jvirtio\n{\"subsystems\": [ /* the bdevs */ {\"subsystem\": \"bdev\", \"config\": [" + attach("A", "/a") + "]}]}");
        assertEquals(List.of("A"), r.attachedControllers());
    }

    @Test
    void objectsStayInDocumentOrder() {
        ObjectNode n = (ObjectNode) SpdkJson.parse("{\"b\": 1, \"a\": 2}", null);
        assertEquals(List.of("b", "a"), List.copyOf(iterable(n)));
    }

    private static List<String> iterable(ObjectNode n) {
        java.util.ArrayList<String> out = new java.util.ArrayList<>();
        n.fieldNames().forEachRemaining(out::add);
        return out;
    }
}
