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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static io.jvirtio.config.TestJson.assertSameJson;
import static org.junit.jupiter.api.Assertions.*;

/**
 * SPDK's own {@code scripts/rpc.py} (from the SPDK 26.01 bundle, unchanged) against {@link RpcServer},
 * with jvirtio's Java vhost-user targets in this process: a virtio-blk device and a virtio-scsi
 * controller with two targets. Asserts on what rpc.py prints, parsed, against the registry's own
 * JSON. Skipped without python3 or rpc.py, failed instead under {@code JVIRTIO_REQUIRE_RPCPY=1} or
 * {@code JVIRTIO_REQUIRE_CONTAINERS=1} ({@link SpdkRpcPy}).
 */
class RpcPyTest {
    private static final long BLK_BYTES = 8L << 20;
    private static SpdkRpcPy rpcPy;

    @TempDir
    Path dir;
    private final List<BlockStore> stores = new ArrayList<>();
    private VhostUserTarget blkTarget;
    private VhostUserTarget scsiTarget;
    private Path blkSocket;
    private Path scsiSocket;
    private Path rpcSocket;
    private BdevRegistry registry;
    private RpcServer server;

    @BeforeAll
    static void findRpcPy() {
        rpcPy = SpdkRpcPy.assumeAvailable();
    }

    @BeforeEach
    void start() throws IOException {
        RamBlockStore blkStore = new RamBlockStore(BLK_BYTES, false);
        stores.add(blkStore);
        blkSocket = dir.resolve("blk0.sock");
        blkTarget = VhostUserTarget.builder().name("blk0").socket(blkSocket)
                .model(new VirtioBlkModel("blk0", blkStore, BlkModelOptions.builder().numQueues(1).build())).start();

        VirtioScsiModel scsi = new VirtioScsiModel(ScsiModelOptions.builder().name("scsi0").requestQueues(1).build());
        for (int target = 0; target < 2; target++) {
            RamBlockStore store = new RamBlockStore(4096L * 256, false);
            stores.add(store);
            scsi.addLun(target, 0, ScsiLun.builder(store).blockSize(4096).build());
        }
        scsiSocket = dir.resolve("scsi0.sock");
        scsiTarget = VhostUserTarget.builder().name("scsi0").socket(scsiSocket).model(scsi).start();

        registry = new BdevRegistry();
        rpcSocket = dir.resolve("jvirtio.sock");
        server = RpcServer.start(rpcSocket, registry);
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
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

    private SpdkRpcPy.Result ok(String... args) {
        SpdkRpcPy.Result r = rpcPy.run(rpcSocket, args);
        assertEquals(0, r.exitCode(), () -> "rpc.py " + String.join(" ", args) + ": " + r);
        return r;
    }

    private static JsonNode json(SpdkRpcPy.Result r) {
        return SpdkJson.parse(r.stdout(), "rpc.py's output");
    }

    /** rpc.py failed with a JSON-RPC error: @return the error object it printed after "response:" */
    private JsonNode error(String... args) {
        SpdkRpcPy.Result r = rpcPy.run(rpcSocket, args);
        assertEquals(1, r.exitCode(), () -> "rpc.py " + String.join(" ", args) + " should fail: " + r);
        String out = r.stdout();
        assertTrue(out.contains("Got JSON-RPC error response"), r::toString);
        int at = out.indexOf("response:\n");
        assertTrue(at >= 0, r::toString);
        return SpdkJson.parse(out.substring(at + "response:\n".length()), "rpc.py's error");
    }

    @Test
    void blkAttachListSaveAndDetach() {
        SpdkRpcPy.Result attach = ok("bdev_virtio_attach_controller", "-t", "user", "-a", blkSocket.toString(), "-d", "blk", "VirtioBlk0");
        assertEquals("VirtioBlk0\n", attach.stdout(), "print_array of the new bdevs");
        assertEquals(List.of("VirtioBlk0"), registry.controllers().stream().map(Controller::name).toList());

        JsonNode bdevs = json(ok("bdev_get_bdevs"));
        assertSameJson(BdevJson.bdevGetBdevs(registry), bdevs);
        JsonNode b = bdevs.get(0);
        assertEquals("VirtioBlk0", b.get("name").asText());
        assertEquals(512, b.get("block_size").intValue());
        assertEquals(BLK_BYTES / 512, b.get("num_blocks").longValue());
        assertEquals("{\"vq_count\":1,\"vq_size\":512,\"type\":\"user\",\"socket\":\"" + blkSocket + "\"}",
                SpdkJson.compact(b.get("driver_specific").get("virtio")));
        assertSameJson(bdevs, json(ok("bdev_get_bdevs", "-b", "VirtioBlk0")));

        // rpc.py's bdev_get_iostat: SPDK's shape, the one bdev, nothing done on it yet
        JsonNode iostat = json(ok("bdev_get_iostat", "-b", "VirtioBlk0"));
        assertEquals(1_000_000_000L, iostat.get("tick_rate").longValue());
        assertEquals(1, iostat.get("bdevs").size());
        assertEquals("VirtioBlk0", iostat.get("bdevs").get(0).get("name").asText());
        assertEquals(0, iostat.get("bdevs").get(0).get("num_read_ops").longValue());
        assertEquals(1, json(ok("bdev_get_iostat")).get("bdevs").size());

        // rpc.py builds save_config from framework_get_subsystems and framework_get_config, on one connection
        JsonNode saved = json(ok("save_config"));
        assertSameJson(SaveConfig.saveConfig(registry), saved);
        JsonNode entry = saved.get("subsystems").get(0).get("config").get(0);
        assertEquals("bdev_virtio_attach_controller", entry.get("method").asText());
        assertEquals("{\"name\":\"VirtioBlk0\",\"dev_type\":\"blk\",\"trtype\":\"user\",\"traddr\":\"" + blkSocket + "\",\"vq_count\":1,\"vq_size\":512}",
                SpdkJson.compact(entry.get("params")));
        assertSameJson(SaveConfig.bdevConfig(registry), json(ok("framework_get_config", "bdev")));

        SpdkRpcPy.Result detach = ok("bdev_virtio_detach_controller", "VirtioBlk0");
        assertEquals("", detach.stdout());
        assertTrue(registry.controllers().isEmpty());
        assertEquals("[]", SpdkJson.compact(json(ok("bdev_get_bdevs"))));
    }

    @Test
    void scsiAttachAndGetDevices() {
        SpdkRpcPy.Result attach = ok("bdev_virtio_attach_controller", "-t", "user", "-a", scsiSocket.toString(), "-d", "scsi",
                "--vq-count", "1", "--vq-size", "64", "VirtioScsi0");
        assertEquals("VirtioScsi0t0 VirtioScsi0t1\n", attach.stdout());

        JsonNode devices = json(ok("bdev_virtio_scsi_get_devices"));
        assertSameJson(BdevJson.virtioScsiGetDevices(registry), devices);
        assertEquals("[{\"name\":\"VirtioScsi0\",\"virtio\":{\"vq_count\":3,\"vq_size\":64,\"type\":\"user\",\"socket\":\"" + scsiSocket + "\"}}]",
                SpdkJson.compact(devices), "vq_count counts the 2 fixed queues, as SPDK");
        assertEquals(2, json(ok("bdev_get_bdevs")).size());

        ok("bdev_virtio_detach_controller", "VirtioScsi0");
        assertEquals("[]", SpdkJson.compact(json(ok("bdev_virtio_scsi_get_devices"))));
    }

    @Test
    void rpcGetMethodsAndSpdkGetVersion() {
        JsonNode methods = json(ok("rpc_get_methods"));
        List<String> names = new ArrayList<>();
        methods.forEach(m -> names.add(m.asText()));
        assertEquals(server.methods(), names);
        assertTrue(names.containsAll(List.of("bdev_virtio_attach_controller", "bdev_virtio_detach_controller",
                "bdev_virtio_scsi_get_devices", "bdev_get_bdevs", "bdev_get_iostat", "framework_get_config", "rpc_get_methods", "spdk_get_version")),
                names.toString());
        assertSameJson(methods, json(ok("rpc_get_methods", "--current", "--include-aliases")));

        JsonNode version = json(ok("spdk_get_version"));
        assertEquals("jvirtio v0.1.0-SNAPSHOT", version.get("version").asText());
        assertEquals("{\"major\":0,\"minor\":1,\"patch\":0,\"suffix\":\"-SNAPSHOT\"}", SpdkJson.compact(version.get("fields")));
    }

    @Test
    void unknownMethodFailsWithSpdksError() {
        // a method rpc.py knows and jvirtio does not have
        JsonNode e = error("bdev_malloc_create", "-b", "Malloc0", "64", "512");
        assertEquals("{\"code\":-32601,\"message\":\"Method not found\"}", SpdkJson.compact(e));
    }

    @Test
    void badParamsFailWithInvalidParams() {
        JsonNode e = error("bdev_virtio_attach_controller", "-t", "user", "-a", blkSocket.toString(), "-d", "blk", "--vq-size", "100", "Bad0");
        assertEquals(JsonRpc.INVALID_PARAMS, e.get("code").intValue(), e.toString());
        assertTrue(e.get("message").asText().contains("params.vq_size"), e.toString());
        assertTrue(registry.controllers().isEmpty());

        e = error("bdev_virtio_attach_controller", "-t", "user", "-a", dir.resolve("nosuch.sock").toString(), "-d", "blk", "Bad1");
        assertEquals(JsonRpc.INVALID_PARAMS, e.get("code").intValue(), e.toString());
        assertTrue(e.get("message").asText().contains("nosuch.sock"), e.toString());

        e = error("framework_get_config", "nvmf");
        assertEquals(JsonRpc.INVALID_PARAMS, e.get("code").intValue(), e.toString());

        e = error("bdev_virtio_detach_controller", "NoSuch");
        assertEquals(JsonRpc.NO_SUCH_DEVICE, e.get("code").intValue(), e.toString());
    }
}
