package io.jvirtio.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.blk.VirtioBlkModel;
import io.jvirtio.backend.scsi.ScsiLun;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import io.jvirtio.backend.scsi.VirtioScsiModel;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.bdev.IoChannel;
import io.jvirtio.bdev.IoStatistics;
import io.jvirtio.bdev.IoType;
import io.jvirtio.bdev.OpStatistics;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import static io.jvirtio.config.TestJson.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * I/O statistics against jvirtio's Java vhost-user targets (in this process): the counters equal the
 * I/O the test issued, closed channels included; {@code bdev_get_iostat} has SPDK's shape
 * (spdk-json/bdev_get_iostat.json: same members, same order, same types).
 */
class IostatTest {
    private static final long BLK_BYTES = 8L << 20;

    @TempDir
    Path dir;

    private RamBlockStore blkStore;
    private RamBlockStore lunStore;
    private VhostUserTarget blkTarget;
    private VhostUserTarget scsiTarget;
    private BdevRegistry registry;

    @BeforeEach
    void start() {
        blkStore = new RamBlockStore(BLK_BYTES, false);
        blkTarget = VhostUserTarget.builder().name("blk0").socket(dir.resolve("blk0.sock"))
                .model(new VirtioBlkModel("blk0", blkStore, BlkModelOptions.builder().discard(true).build())).start();
        VirtioScsiModel model = new VirtioScsiModel(ScsiModelOptions.builder().name("scsi0").build());
        lunStore = new RamBlockStore(4L << 20, false);
        model.addLun(0, 0, ScsiLun.builder(lunStore).blockSize(4096).build());
        scsiTarget = VhostUserTarget.builder().name("scsi0").socket(dir.resolve("scsi0.sock")).model(model).start();
        registry = new BdevRegistry();
        registry.attachController(ControllerParams.user("VirtioBlk0", "blk", dir.resolve("blk0.sock"), 1, 128));
        registry.attachController(ControllerParams.user("VirtioScsi0", "scsi", dir.resolve("scsi0.sock"), 1, 128));
    }

    @AfterEach
    void stop() {
        if (registry != null) {
            registry.close();
        }
        blkTarget.close();
        scsiTarget.close();
        blkStore.close();
        lunStore.close();
    }

    @Test
    void blkCountersEqualTheIssuedIoAcrossOpenAndClosedChannels() {
        Bdev blk = registry.bdev("VirtioBlk0");
        MemorySegment buf = blk.allocateBuffer(64 << 10, 4096);
        try (IoChannel ch = blk.openChannel()) {
            IoHarness io = new IoHarness(ch);
            for (int i = 0; i < 3; i++) {
                io.ok((c, cb) -> c.read(buf.asSlice(0, 4096), 0, cb, null));
            }
            io.ok((c, cb) -> c.read(buf.asSlice(0, 8192), 8192, cb, null));
            for (int i = 0; i < 5; i++) {
                long off = i * 16384L;
                io.ok((c, cb) -> c.write(buf.asSlice(0, 16384), off, cb, null));
            }
            io.ok((c, cb) -> c.unmap(1 << 20, 1 << 20, cb, null));
            io.ok((c, cb) -> c.unmap(2 << 20, 512, cb, null));
            io.ok((c, cb) -> c.flush(cb, null));
            blkTarget.faults().failNextRequests(1);
            BdevIoException e = assertInstanceOf(BdevIoException.class, io.run((c, cb) -> c.read(buf.asSlice(0, 4096), 0, cb, null)));
            assertEquals(Reason.DEVICE_STATUS, e.reason());

            IoStatistics open = blk.ioStatistics();
            assertEquals(1, blk.channelIoStatistics().size(), "one open channel");
            assertEquals(Thread.currentThread().threadId(), blk.channelIoStatistics().getFirst().threadId());
            assertCounts(open.read(), 4, 3 * 4096 + 8192);
            assertCounts(open.write(), 5, 5 * 16384);
            assertCounts(open.unmap(), 2, (1 << 20) + 512);
            assertCounts(open.of(IoType.FLUSH), 1, 0);
            assertEquals(Map.of(Reason.DEVICE_STATUS, 1L), open.errors(), "the failed read counts only as an error");
        }
        assertEquals(List.of(), blk.channelIoStatistics(), "no open channel");
        try (IoChannel ch = blk.openChannel()) {
            new IoHarness(ch).ok((c, cb) -> c.read(buf.asSlice(0, 4096), 4096, cb, null));
        }
        IoStatistics s = registry.ioStatistics("VirtioBlk0");
        assertCounts(s.read(), 5, 4 * 4096 + 8192);
        assertCounts(s.write(), 5, 5 * 16384);
        assertEquals(1, s.errorCount());
        blk.freeBuffer(buf);

        JsonNode answer = rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"bdev_get_iostat\",\"params\":{\"name\":\"VirtioBlk0\"}}");
        JsonNode result = answer.get("result");
        assertNotNull(result, answer.toString());
        assertSameShape(json("bdev_get_iostat.json"), result);
        JsonNode b = result.get("bdevs").get(0);
        assertEquals("VirtioBlk0", b.get("name").asText());
        assertEquals(4 * 4096 + 8192, b.get("bytes_read").longValue());
        assertEquals(5, b.get("num_read_ops").longValue());
        assertEquals(5 * 16384, b.get("bytes_written").longValue());
        assertEquals((1 << 20) + 512, b.get("bytes_unmapped").longValue());
        assertEquals(2, b.get("num_unmap_ops").longValue());
        assertEquals(0, b.get("num_copy_ops").longValue());
        assertEquals("{\"failed\":1}", SpdkJson.compact(b.get("io_error")));
        assertEquals(1_000_000_000L, result.get("tick_rate").longValue());
        System.out.println("bdev_get_iostat " + SpdkJson.format(answer));
    }

    @Test
    void scsiLunCountsAndEveryBdevIsListed() {
        Bdev lun = registry.bdev("VirtioScsi0t0");
        MemorySegment buf = lun.allocateBuffer(16384, 4096);
        try (IoChannel ch = lun.openChannel()) {
            IoHarness io = new IoHarness(ch);
            io.ok((c, cb) -> c.write(buf, 0, cb, null));
            io.ok((c, cb) -> c.read(buf.asSlice(0, 4096), 0, cb, null));
            io.ok((c, cb) -> c.read(buf.asSlice(0, 8192), 4096, cb, null));
            scsiTarget.faults().failNextRequests(1);
            assertNotNull(io.run((c, cb) -> c.read(buf.asSlice(0, 4096), 0, cb, null)));
            JsonNode perChannel = rpc("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"bdev_get_iostat\","
                    + "\"params\":{\"name\":\"VirtioScsi0t0\",\"per_channel\":true}}").get("result");
            assertEquals(List.of("tick_rate", "ticks", "name", "channels"), names(perChannel));
            assertEquals(1, perChannel.get("channels").size());
            JsonNode c0 = perChannel.get("channels").get(0);
            assertEquals(Thread.currentThread().threadId(), c0.get("thread_id").longValue());
            assertEquals(2, c0.get("num_read_ops").longValue());
        }
        lun.freeBuffer(buf);
        IoStatistics s = lun.ioStatistics();
        assertCounts(s.read(), 2, 4096 + 8192);
        assertCounts(s.write(), 1, 16384);
        assertEquals(1, s.errorCount(), s.errors().toString());

        JsonNode all = rpc("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"bdev_get_iostat\"}").get("result");
        List<String> bdevs = new ArrayList<>();
        all.get("bdevs").forEach(b -> bdevs.add(b.get("name").asText()));
        assertEquals(List.of("VirtioBlk0", "VirtioScsi0t0"), bdevs);
        JsonNode scsi = all.get("bdevs").get(1);
        assertEquals(1, scsi.get("io_error").size(), scsi.toString());
        all.get("bdevs").forEach(b -> assertEquals(names(json("bdev_get_iostat.json").get("bdevs").get(0)), names(b)));
    }

    @Test
    void unknownBdevAndBadParamsAreSpdkErrors() {
        JsonNode none = rpc("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"bdev_get_iostat\",\"params\":{\"name\":\"Nope0\"}}");
        assertEquals(JsonRpc.NO_SUCH_DEVICE, none.get("error").get("code").intValue(), none.toString());
        JsonNode bad = rpc("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"bdev_get_iostat\",\"params\":{\"per_channel\":true}}");
        assertEquals(JsonRpc.INVALID_PARAMS, bad.get("error").get("code").intValue(), bad.toString());
        JsonNode unknown = rpc("{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"bdev_get_iostat\",\"params\":{\"reset_mode\":\"all\"}}");
        assertEquals(JsonRpc.INVALID_PARAMS, unknown.get("error").get("code").intValue(), unknown.toString());
    }

    private JsonNode rpc(String request) {
        return SpdkJson.parse(new JsonRpc(registry).handle(request), "response");
    }

    private static void assertCounts(OpStatistics s, long ops, long bytes) {
        assertEquals(ops, s.ops(), "ops of " + s);
        assertEquals(bytes, s.bytes(), "bytes of " + s);
        if (ops > 0) {
            assertTrue(s.minLatencyTicks() > 0 && s.minLatencyTicks() <= s.maxLatencyTicks(), s.toString());
            assertTrue(s.latencyTicks() >= s.maxLatencyTicks() && s.latencyTicks() >= ops * s.minLatencyTicks(), s.toString());
        }
    }

    /** Same member names in the same order, same JSON types, recursively; io_error's members are data. */
    private static void assertSameShape(JsonNode expected, JsonNode actual) {
        assertEquals(expected.getNodeType(), actual.getNodeType(), expected + " vs " + actual);
        if (expected.isIntegralNumber()) {
            assertTrue(actual.isIntegralNumber(), actual + " is an integer");
        }
        if (expected.isObject()) {
            assertEquals(names(expected), names(actual));
            for (String k : names(expected)) {
                if (!k.equals("io_error")) {
                    assertSameShape(expected.get(k), actual.get(k));
                }
            }
        } else if (expected.isArray()) {
            assertEquals(expected.size(), actual.size());
            for (int i = 0; i < expected.size(); i++) {
                assertSameShape(expected.get(i), actual.get(i));
            }
        }
    }

    private static List<String> names(JsonNode o) {
        List<String> out = new ArrayList<>();
        for (Iterator<String> it = o.fieldNames(); it.hasNext(); ) {
            out.add(it.next());
        }
        return out;
    }
}
