package io.jvirtio.config;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** bdev_virtio_attach_controller's param rules, as SPDK's decoder and RPC handler apply them, with errors that say what is wrong. */
class ControllerParamsTest {
    private static ControllerParams parse(String json) {
        return ControllerParams.fromJson(SpdkJson.parse(json, null));
    }

    private static ConfigException refused(String json) {
        return assertThrows(ConfigException.class, () -> parse(json));
    }

    private static final String BASE = "\"name\": \"VirtioBlk0\", \"dev_type\": \"blk\", \"trtype\": \"user\", \"traddr\": \"/var/tmp/vhost.blk0\"";

    @Test
    void spdksRequestDecodes() {
        JsonNode request = TestJson.json("rpc/attach_blk.request.json");
        ControllerParams p = ControllerParams.fromJson(request.get("params"));
        assertEquals(new ControllerParams("VirtioBlk0", "blk", Transport.USER, "/var/tmp/vhost.blk0", 1, 128), p);
        assertEquals(Path.of("/var/tmp/vhost.blk0"), p.socketPath());
    }

    @Test
    void defaultsAreSpdks() {
        ControllerParams p = parse("{" + BASE + "}");
        assertEquals(1, p.vqCount());
        assertEquals(512, p.vqSize());
        assertEquals(p, ControllerParams.user("VirtioBlk0", "blk", Path.of("/var/tmp/vhost.blk0")));
    }

    @Test
    void zeroMeansTheDefaultAsInSpdk() {
        ControllerParams p = parse("{" + BASE + ", \"vq_count\": 0, \"vq_size\": 0}");
        assertEquals(1, p.vqCount());
        assertEquals(512, p.vqSize());
    }

    @Test
    void toJsonWritesSpdksOrder() {
        ControllerParams p = parse("{\"vq_size\": 128, \"traddr\": \"/s\", \"vq_count\": 2, \"dev_type\": \"blk\", \"trtype\": \"user\", \"name\": \"B\"}");
        assertEquals("{\"name\":\"B\",\"dev_type\":\"blk\",\"trtype\":\"user\",\"traddr\":\"/s\",\"vq_count\":2,\"vq_size\":128}",
                SpdkJson.compact(p.toJson()));
        assertEquals(p, ControllerParams.fromJson(p.toJson()));
    }

    @Test
    void pciWritesNoQueueParams() {
        ControllerParams p = parse("{\"name\": \"P\", \"dev_type\": \"blk\", \"trtype\": \"pci\", \"traddr\": \"0000:00:04.0\"}");
        assertEquals(Transport.PCI, p.trtype());
        assertEquals("{\"name\":\"P\",\"dev_type\":\"blk\",\"trtype\":\"pci\",\"traddr\":\"0000:00:04.0\"}", SpdkJson.compact(p.toJson()));
        assertThrows(IllegalStateException.class, p::socketPath);
    }

    @Test
    void vqSizeMustBeAPowerOfTwo() {
        ConfigException e = refused("{" + BASE + ", \"vq_size\": 100}");
        assertEquals("vq_size", e.jsonPath().toString());
        assertEquals("vq_size: 100 is not a power of two", e.getMessage());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "\"vq_size\": 65536       | vq_size  | 65536 is larger than 32768",
            "\"vq_size\": 1           | vq_size  | 1 is too small",
            "\"vq_size\": 5000000000  | vq_size  | 5000000000 is out of range",
            "\"vq_size\": -4          | vq_size  | -4 is out of range",
            "\"vq_size\": 128.5       | vq_size  | 128.5 is not an integer",
            "\"vq_size\": \"128\"     | vq_size  | \"128\" is a string, not an integer",
            "\"vq_count\": null       | vq_count | null is not an integer",
            "\"vq_count\": 70000      | vq_count | 70000 is out of range (1 to 65535",
            "\"vq_count\": true       | vq_count | true is a boolean, not an integer",
    })
    void badQueueParams(String extra, String path, String message) {
        ConfigException e = refused("{" + BASE + ", " + extra + "}");
        assertEquals(path, e.jsonPath().toString());
        assertTrue(e.getMessage().startsWith(path + ": " + message), e.getMessage());
    }

    @Test
    void queueParamsAreForUserOnly() {
        String pci = "\"name\": \"P\", \"dev_type\": \"blk\", \"trtype\": \"pci\", \"traddr\": \"0000:00:04.0\"";
        ConfigException e = refused("{" + pci + ", \"vq_count\": 2}");
        assertEquals("vq_count", e.jsonPath().toString());
        assertTrue(e.getMessage().contains("2 is not allowed for trtype \"pci\""), e.getMessage());
        e = refused("{" + pci + ", \"vq_size\": 128}");
        assertEquals("vq_size", e.jsonPath().toString());
        assertThrows(ConfigException.class, () -> ControllerParams.pci("P", "blk", "not-an-address"));
        e = refused("{\"name\": \"P\", \"dev_type\": \"blk\", \"trtype\": \"pci\", \"traddr\": \"/var/tmp/vhost.blk0\"}");
        assertEquals("traddr: Invalid PCI address '/var/tmp/vhost.blk0' (expected domain:bus:device.function, e.g. 0000:00:05.0)",
                e.getMessage());
    }

    /** spdk_pci_addr_parse's forms; the params keep what was written, pciAddress() is the normalized form. */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "0000:00:04.0 | 0000:00:04.0",
            "0000.00.04.0 | 0000:00:04.0",
            "0000:00:04   | 0000:00:04.0",
            "00:04.1      | 0000:00:04.1",
            "0.4.7        | 0000:00:04.7",
            "1a:1f        | 0000:1a:1f.0",
            "ABCD:EF:1F.7 | abcd:ef:1f.7",
    })
    void pciAddressFormsAreSpdks(String traddr, String normalized) {
        ControllerParams p = ControllerParams.pci("P", "blk", traddr);
        assertEquals(traddr, p.traddr());
        assertEquals(normalized, p.pciAddress().toString());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "0000:00:20.0  | Invalid PCI address '0000:00:20.0': PCI device 0x20 is out of range (0..0x1f)",
            "0000:00:04.8  | Invalid PCI address '0000:00:04.8'",
            "0000:100:04.0 | Invalid PCI address '0000:100:04.0': PCI bus 0x100 is out of range (0..0xff)",
            "04            | Invalid PCI address '04' (expected domain:bus:device.function, e.g. 0000:00:05.0)",
            "pci0          | Invalid PCI address 'pci0' (expected domain:bus:device.function, e.g. 0000:00:05.0)",
    })
    void invalidPciAddressesNameTheValueOnTraddr(String traddr, String message) {
        ConfigException e = refused("{\"name\": \"P\", \"dev_type\": \"scsi\", \"trtype\": \"pci\", \"traddr\": \"" + traddr + "\"}");
        assertEquals("traddr", e.jsonPath().toString());
        assertTrue(e.getMessage().startsWith("traddr: " + message), e.getMessage());
        assertThrows(IllegalStateException.class, () -> ControllerParams.user("U", "blk", java.nio.file.Path.of("/s")).pciAddress());
    }

    @Test
    void requiredParams() {
        ConfigException e = refused("{\"name\": \"B\", \"dev_type\": \"blk\", \"trtype\": \"user\"}");
        assertEquals("traddr", e.jsonPath().toString());
        assertTrue(e.getMessage().startsWith("traddr: missing; bdev_virtio_attach_controller requires name, dev_type, trtype and traddr"),
                e.getMessage());
        e = refused("{\"name\": \"B\", \"trtype\": \"user\"}");
        assertTrue(e.getMessage().startsWith("missing required parameters \"dev_type\", \"traddr\""), e.getMessage());
        e = refused("{" + BASE.replace("\"VirtioBlk0\"", "\"\"") + "}");
        assertEquals("name: \"\" (empty); a controller needs a name", e.getMessage());
        e = refused("{" + BASE.replace("\"VirtioBlk0\"", "7") + "}");
        assertEquals("name: 7 is an integer, not a string", e.getMessage());
    }

    @Test
    void unknownParamsAreNamed() {
        ConfigException e = refused("{" + BASE + ", \"vq_sizes\": 128}");
        assertEquals("vq_sizes", e.jsonPath().toString());
        assertTrue(e.getMessage().startsWith("vq_sizes: unknown parameter \"vq_sizes\" (bdev_virtio_attach_controller takes name,"),
                e.getMessage());
        e = refused("{" + BASE + ", \"a\": 1, \"b\": 2}");
        assertTrue(e.getMessage().startsWith("unknown parameters \"a\", \"b\""), e.getMessage());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "USER      | \"USER\" is not a transport; did you mean \"user\"? (trtype is case-sensitive, as in SPDK)",
            "tcp       | \"tcp\" is not a transport; use \"user\" (vhost-user socket) or \"pci\" (PCI address)",
            "vfio-user | \"vfio-user\" is an SPDK transport jvirtio does not support; use \"user\" or \"pci\"",
    })
    void trtypeIsExact(String trtype, String message) {
        ConfigException e = refused("{\"name\": \"B\", \"dev_type\": \"blk\", \"trtype\": \"" + trtype + "\", \"traddr\": \"/s\"}");
        assertEquals("trtype: " + message, e.getMessage());
    }

    @Test
    void paramsMustBeAnObject() {
        ConfigException e = assertThrows(ConfigException.class, () -> ControllerParams.fromJson(SpdkJson.parse("[1]", null)));
        assertTrue(e.getMessage().startsWith("[1] is an array, not the params of bdev_virtio_attach_controller"), e.getMessage());
    }

    @Test
    void errorsRebaseOntoTheirEntry() {
        ConfigException e = refused("{" + BASE + ", \"vq_size\": 100}");
        ConfigException at = e.at(JsonPath.root().field("subsystems").index(0).field("config").index(2).field("params")).in("c.json");
        assertEquals("c.json: subsystems[0].config[2].params.vq_size: 100 is not a power of two", at.getMessage());
        assertEquals("subsystems[0].config[2].params.vq_size", at.jsonPath().toString());
        assertEquals("100 is not a power of two", at.detail());
        assertEquals("c.json", at.source());
        assertEquals("[3].params", JsonPath.root().index(3).field("params").toString());
        assertEquals("a[1].b", JsonPath.of("a").resolve(JsonPath.of("[1].b")).toString());
    }
    @Test
    void reconnectParamsInSpdksTermsRoundTripAndAreWrittenOnlyWhenSet() {
        ControllerParams p = parse("{" + BASE + ", \"ctrlr_loss_timeout_sec\": 30, \"reconnect_delay_sec\": 2, \"fast_io_fail_timeout_sec\": 10}");
        assertEquals(new io.jvirtio.core.ReconnectPolicy(30, 2, 10), p.reconnect());
        assertEquals(p, ControllerParams.fromJson(p.toJson()));
        assertTrue(p.toJson().has("ctrlr_loss_timeout_sec"), p.toJson().toString());
        ControllerParams forever = parse("{" + BASE + ", \"ctrlr_loss_timeout_sec\": -1, \"reconnect_delay_sec\": 1}");
        assertEquals(-1, forever.reconnect().ctrlrLossTimeoutSec());
        ControllerParams plain = parse("{" + BASE + "}");
        assertTrue(plain.reconnect().isDefault());
        assertFalse(plain.toJson().has("ctrlr_loss_timeout_sec"), "defaults are not written: " + plain.toJson());
        assertFalse(plain.toJson().has("reconnect_delay_sec"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "\"ctrlr_loss_timeout_sec\": 10|reconnect_delay_sec|reconnect_delay_sec can't be 0 when ctrlr_loss_timeout_sec is 10",
            "\"ctrlr_loss_timeout_sec\": 5, \"reconnect_delay_sec\": 6|reconnect_delay_sec|reconnect_delay_sec 6 can't be more than ctrlr_loss_timeout_sec 5",
            "\"ctrlr_loss_timeout_sec\": 10, \"reconnect_delay_sec\": 2, \"fast_io_fail_timeout_sec\": 11|fast_io_fail_timeout_sec|fast_io_fail_timeout_sec 11 can't be more than ctrlr_loss_timeout_sec 10",
            "\"reconnect_delay_sec\": 3|reconnect_delay_sec|must both be 0 when ctrlr_loss_timeout_sec is 0",
            "\"ctrlr_loss_timeout_sec\": -2|ctrlr_loss_timeout_sec|ctrlr_loss_timeout_sec -2 can't be less than -1",
            "\"ctrlr_loss_timeout_sec\": \"30\"|ctrlr_loss_timeout_sec|is a string, not an integer",
    })
    void badReconnectParamsAreRefusedAsSpdkRefusesThem(String extra, String param, String message) {
        ConfigException e = refused("{" + BASE + ", " + extra + "}");
        assertTrue(e.getMessage().contains(param), e.getMessage());
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }
}
