package io.jvirtio.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static io.jvirtio.config.TestJson.*;
import static org.junit.jupiter.api.Assertions.*;

/** SPDK's JSON-RPC requests (src/test/resources/spdk-json/rpc) answered as SPDK answered them; errors say what was wrong. */
class JsonRpcTest {
    private final FakeControllerType blk = FakeControllerType.blk();
    private final FakeControllerType scsi = FakeControllerType.scsi();
    private final BdevRegistry registry = new BdevRegistry(ControllerTypes.of(blk, scsi));
    private final JsonRpc rpc = new JsonRpc(registry);

    @AfterEach
    void close() {
        registry.close();
    }

    /** Sends rpc/NAME.request.json; @return the one-line response */
    private String call(String name) {
        return rpc.handle(text("rpc/" + name + ".request.json"));
    }

    private static String raw(String name) {
        return text("rpc/" + name + ".response.raw.json").strip();
    }

    @Test
    void attachDetachAndWaitAnswerExactlyAsSpdk() {
        assertEquals(raw("attach_scsi"), call("attach_scsi"));
        assertEquals(raw("attach_blk"), call("attach_blk"));
        assertEquals(raw("wait_for_examine"), call("wait_for_examine"));
        assertEquals(raw("detach_blk"), call("detach_blk"));
        assertEquals(raw("detach_scsi"), call("detach_scsi"));
        assertTrue(registry.controllers().isEmpty());
    }

    @Test
    void bdevGetBdevsAnswersAsSpdkUuidsAside() {
        call("attach_blk");
        call("attach_scsi");
        JsonNode expected = SpdkJson.parse(raw("bdev_get_bdevs"), null);
        for (JsonNode b : expected.get("result")) {
            replaceStrings(b, b.get("uuid").asText(), registry.uuid(b.get("name").asText()).toString());
        }
        assertEquals(SpdkJson.compact(expected), call("bdev_get_bdevs"));
    }

    @Test
    void scsiGetDevicesAnswersAsSpdk() {
        call("attach_scsi");
        call("attach_blk");
        assertEquals(raw("bdev_virtio_scsi_get_devices"), call("bdev_virtio_scsi_get_devices"));
    }

    @Test
    void frameworkGetConfigAnswersSpdksVirtioEntries() {
        call("attach_scsi");
        call("attach_blk");
        JsonNode expected = SpdkJson.parse(raw("framework_get_config_bdev"), null);
        removeIf((ArrayNode) expected.get("result"), e -> !e.get("method").asText().startsWith("bdev_virtio")
                && !e.get("method").asText().equals("bdev_wait_for_examine"));
        assertEquals(SpdkJson.compact(expected), call("framework_get_config_bdev"));
    }

    @Test
    void aDuplicateNameIsNamed() {
        call("attach_blk");
        JsonNode r = SpdkJson.parse(call("attach_error_dupname"), null);
        assertEquals(JsonRpc.INVALID_PARAMS, r.get("error").get("code").intValue(), "SPDK's code");
        assertEquals("params.name: \"VirtioBlk0\" is already in use by the attached blk controller VirtioBlk0"
                + " (trtype user, traddr \"/var/tmp/vhost.blk0\"); detach it first or choose another name", r.get("error").get("message").asText());
        assertEquals(1, r.get("id").intValue());
    }

    @Test
    void aMissingSocketIsNamed() {
        try (BdevRegistry real = new BdevRegistry()) {
            JsonNode r = SpdkJson.parse(new JsonRpc(real).handle(text("rpc/attach_error_nosocket.request.json")), null);
            assertEquals(JsonRpc.INVALID_PARAMS, r.get("error").get("code").intValue());
            String m = r.get("error").get("message").asText();
            assertTrue(m.startsWith("params.traddr: \"/var/tmp/nonexistent\": cannot attach Bad0: cannot connect to vhost-user socket"
                    + " /var/tmp/nonexistent: the file does not exist"), m);
            assertTrue(real.controllers().isEmpty());
        }
    }

    @Test
    void detachingWhatIsNotThereIsSpdksNoSuchDevice() {
        JsonNode r = SpdkJson.parse(call("detach_error_nosuch"), null);
        assertEquals(JsonRpc.NO_SUCH_DEVICE, r.get("error").get("code").intValue(), "SPDK's -19");
        assertEquals("params.name: no controller named \"NoSuch\" is attached (attached: none)", r.get("error").get("message").asText());
        r = rpc.handle(SpdkJson.parse("{\"jsonrpc\": \"2.0\", \"method\": \"bdev_get_bdevs\", \"id\": 7, \"params\": {\"name\": \"X\"}}", null));
        assertEquals(JsonRpc.NO_SUCH_DEVICE, r.get("error").get("code").intValue());
        assertEquals("params.name: no bdev named \"X\" (attached bdevs: none)", r.get("error").get("message").asText());
    }

    @Test
    void badParamsAndRequests() {
        String r = rpc.handle("{\"jsonrpc\": \"2.0\", \"method\": \"bdev_virtio_attach_controller\", \"id\": 3, \"params\": {\"name\": \"B\","
                + " \"trtype\": \"user\", \"traddr\": \"/b\", \"dev_type\": \"blk\", \"vq_size\": 100}}");
        assertEquals("{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32602,\"message\":\"params.vq_size: 100 is not a power of two\"}}", r);
        r = rpc.handle("{\"jsonrpc\": \"2.0\", \"method\": \"bdev_malloc_create\", \"id\": 4}");
        assertEquals("{\"jsonrpc\":\"2.0\",\"id\":4,\"error\":{\"code\":-32601,\"message\":\"Method not found: \\\"bdev_malloc_create\\\"\"}}", r);
        r = rpc.handle("{\"jsonrpc\": \"2.0\", \"method\": \"bdev_virtio_attach_controller\", \"id\": 5}");
        assertTrue(r.contains("\"code\":-32602,\"message\":\"params: missing; expected the params of bdev_virtio_attach_controller"), r);
        r = rpc.handle("{\"method\": \"bdev_get_bdevs\", \"id\": 6}");
        assertTrue(r.contains("\"code\":-32600"), r);
        r = rpc.handle("{\"jsonrpc\": \"2.0\", \"method\":");
        assertTrue(r.startsWith("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"malformed JSON at line 1"), r);
        r = rpc.handle("{\"jsonrpc\": \"2.0\", \"method\": \"framework_get_config\", \"id\": 8, \"params\": {\"name\": \"nvmf\"}}");
        assertTrue(r.contains("params.name: \\\"nvmf\\\" is not a subsystem of jvirtio"), r);
    }

    @Test
    void theFunctionsReturnTheResultValues() {
        assertEquals("[\"VirtioBlk0\"]", SpdkJson.compact(rpc.attachController(json("rpc/attach_blk.request.json").get("params"))));
        assertEquals(1, rpc.getBdevs(null).size());
        assertEquals(1, rpc.getBdevs(SpdkJson.parse("{\"name\": \"VirtioBlk0\", \"timeout\": 10}", null)).size());
        assertTrue(rpc.detachController(json("rpc/detach_blk.request.json").get("params")).booleanValue());
    }
}
