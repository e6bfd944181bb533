package io.jvirtio.tools;

import com.fasterxml.jackson.databind.JsonNode;
import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.IoChannel;
import io.jvirtio.config.SpdkJson;
import io.jvirtio.config.SpdkRpcPy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static io.jvirtio.tools.CommandResult.run;
import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code jvirtio serve} as a process driven by SPDK's own rpc.py (attach on a Java target in this
 * process, bdev_get_bdevs, bdev_get_iostat, save_config, detach, an unknown method, bad params, a
 * live socket refused, SIGTERM removing the socket), and {@code jvirtio iostat} against a serve
 * with I/O issued between two samples.
 */
class ServeAndIostatTest {
    @TempDir
    Path dir;
    private VhostUserTarget target;
    private Path blkSock;

    @BeforeEach
    void startTarget() {
        blkSock = dir.resolve("vhost.blk0");
        RamBlockStore store = new RamBlockStore(8L << 20, false);
        target = VhostUserTarget.builder().name("blk0").socket(blkSock).blk(store, BlkModelOptions.builder().numQueues(1).build())
                .closeOnExit(store).start();
    }

    @AfterEach
    void stopTarget() {
        target.close();
    }

    private static Process startJvm(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Jvirtio.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getOutputStream().close();
        return p;
    }

    private static JsonNode json(SpdkRpcPy.Result r) {
        return SpdkJson.parse(r.stdout(), "rpc.py's output");
    }

    /** rpc.py failed with a JSON-RPC error: @return the error object it printed after "response:" */
    private static JsonNode error(SpdkRpcPy.Result r) {
        assertEquals(1, r.exitCode(), r::toString);
        int at = r.stdout().indexOf("response:\n");
        assertTrue(r.stdout().contains("Got JSON-RPC error response") && at >= 0, r::toString);
        return SpdkJson.parse(r.stdout().substring(at + "response:\n".length()), "rpc.py's error");
    }

    @Test
    void rpcPyDrivesAServeProcessAndSigtermRemovesItsSocket() throws Exception {
        SpdkRpcPy rpcPy = SpdkRpcPy.assumeAvailable();
        Path rpc = dir.resolve("jvirtio.sock");
        Process serve = startJvm("serve", "--rpc-socket", rpc.toString());
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(serve.getInputStream(), StandardCharsets.UTF_8));
            String first = out.readLine();
            assertNotNull(first, "serve printed nothing");
            assertTrue(first.startsWith("serving JSON-RPC on " + rpc), first);
            assertTrue(Files.exists(rpc));

            SpdkRpcPy.Result attach = rpcPy.run(rpc, "bdev_virtio_attach_controller", "-t", "user", "-a", blkSock.toString(), "-d", "blk",
                    "VirtioBlk0");
            assertEquals(0, attach.exitCode(), attach::toString);
            assertEquals("VirtioBlk0\n", attach.stdout());

            JsonNode bdevs = json(rpcPy.run(rpc, "bdev_get_bdevs"));
            assertEquals("VirtioBlk0", bdevs.get(0).get("name").asText(), bdevs::toString);
            assertEquals(8L << 20, bdevs.get(0).get("num_blocks").asLong() * bdevs.get(0).get("block_size").asLong());

            JsonNode iostat = json(rpcPy.run(rpc, "bdev_get_iostat", "-b", "VirtioBlk0"));
            assertEquals(1_000_000_000L, iostat.get("tick_rate").asLong(), iostat::toString);
            assertEquals("VirtioBlk0", iostat.get("bdevs").get(0).get("name").asText(), iostat::toString);

            JsonNode saved = json(rpcPy.run(rpc, "save_config"));
            assertTrue(saved.toString().contains("\"method\":\"bdev_virtio_attach_controller\"") && saved.toString().contains(blkSock.toString()),
                    saved::toString);

            // a second serve on the live socket is refused, naming the path, and leaves it alone
            CommandResult again = run("serve", "--rpc-socket", rpc.toString());
            assertEquals(1, again.status, again.all());
            assertTrue(again.err.contains("--rpc-socket " + rpc) && again.err.contains("listens there"), again.err);

            JsonNode unknown = error(rpcPy.run(rpc, "bdev_malloc_create", "-b", "Malloc0", "64", "512"));
            assertEquals("{\"code\":-32601,\"message\":\"Method not found\"}", SpdkJson.compact(unknown));
            JsonNode bad = error(rpcPy.run(rpc, "bdev_virtio_attach_controller", "-t", "user", "-a", blkSock.toString(), "-d", "blk",
                    "--vq-size", "100", "Bad0"));
            assertEquals(-32602, bad.get("code").intValue(), bad::toString);
            assertTrue(bad.get("message").asText().contains("params.vq_size"), bad::toString);
            JsonNode noBdev = error(rpcPy.run(rpc, "bdev_get_iostat", "-b", "NoSuchBdev"));
            assertEquals(-19, noBdev.get("code").intValue(), noBdev::toString);

            SpdkRpcPy.Result detach = rpcPy.run(rpc, "bdev_virtio_detach_controller", "VirtioBlk0");
            assertEquals(0, detach.exitCode(), detach::toString);
            assertEquals("[]", json(rpcPy.run(rpc, "bdev_get_bdevs")).toString());

            Process kill = new ProcessBuilder("kill", "-TERM", Long.toString(serve.pid())).inheritIO().start();
            assertEquals(0, kill.waitFor());
            assertTrue(serve.waitFor(30, TimeUnit.SECONDS), "serve ends on SIGTERM");
            String rest = new String(serve.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(rest.contains("stopped; " + rpc + " removed"), rest);
            assertFalse(Files.exists(rpc), "the socket file is gone");
        } finally {
            serve.destroyForcibly();
        }
    }

    @Test
    void iostatShowsTheIoIssuedBetweenTwoSamples() throws Exception {
        Path config = dir.resolve("bdev.json");
        Files.writeString(config, """
                {"subsystems": [{"subsystem": "bdev", "config": [
                  {"method": "bdev_virtio_attach_controller",
                   "params": {"name": "VirtioBlk0", "trtype": "user", "traddr": "%s", "dev_type": "blk", "vq_count": 1, "vq_size": 64}}]}]}
                """.formatted(blkSock));
        Path rpc = dir.resolve("serve.sock");
        ServeCommand cmd = new ServeCommand(Cli.of(System.out, System.err));
        cmd.socket = rpc;
        cmd.config = config;
        try (ServeCommand.Serving serving = cmd.open()) {
            CommandResult noSock = run("iostat", "-s", dir.resolve("nothing.sock").toString());
            assertEquals(1, noSock.status, noSock.all());
            assertTrue(noSock.err.contains("nothing.sock") && noSock.err.contains("cannot connect"), noSock.err);
            CommandResult usage = run("iostat", "-s", rpc.toString(), "-i", "1");
            assertEquals(2, usage.status, usage.all());
            assertTrue(usage.err.contains("-i 1") && usage.err.contains("at the same time"), usage.err);

            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            PrintStream sink = new PrintStream(bytes, true, StandardCharsets.UTF_8);
            CompletableFuture<Integer> iostat = CompletableFuture.supplyAsync(() -> Jvirtio.run(new String[] {"iostat", "-s", rpc.toString(),
                    "-d", "-b", "VirtioBlk0", "-i", "2", "-t", "4"}, sink, sink));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!bytes.toString(StandardCharsets.UTF_8).contains("VirtioBlk0") && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertTrue(bytes.toString(StandardCharsets.UTF_8).contains("VirtioBlk0"), "the first sample: " + bytes);
            int reads = 300;
            int writes = 100;
            issue(serving.registry().findBdev("VirtioBlk0").orElseThrow(), reads, writes);
            assertEquals(0, iostat.get(30, TimeUnit.SECONDS), bytes.toString(StandardCharsets.UTF_8));
            String text = bytes.toString(StandardCharsets.UTF_8);
            String[] tables = text.split("\n\n");
            assertEquals(2, tables.length, text);
            String[] header = tables[1].lines().toList().get(0).trim().split("\\s+");
            String[] row = tables[1].lines().toList().get(1).trim().split("\\s+");
            assertEquals(List.of("Device", "tps", "KB_read/s", "KB_wrtn/s", "KB_dscd/s", "KB_read", "KB_wrtn", "KB_dscd"), List.of(header));
            assertEquals("VirtioBlk0", row[0]);
            assertEquals(reads * 4.0, Double.parseDouble(row[5]), 0.001, "KB read in the interval: " + text);
            assertEquals(writes * 8.0, Double.parseDouble(row[6]), 0.001, "KB written in the interval: " + text);
            double interval = Double.parseDouble(row[5]) / Double.parseDouble(row[2]);
            assertTrue(interval > 1.5 && interval < 6, "the interval is -i 2 seconds: " + interval + "\n" + text);
            assertEquals((reads + writes) / interval, Double.parseDouble(row[1]), 1.0, text);
            System.out.println("jvirtio iostat output:\n" + text);
        }
        assertFalse(Files.exists(rpc));
    }

    /** Issues {@code reads} 4 KiB reads and {@code writes} 8 KiB writes, one at a time, on this thread. */
    private static void issue(Bdev bdev, int reads, int writes) {
        MemorySegment buf = bdev.allocateBuffer(8192, 4096);
        AtomicInteger done = new AtomicInteger();
        try (IoChannel ch = bdev.openChannel()) {
            for (int i = 0; i < reads + writes; i++) {
                int before = done.get();
                boolean ok = i < reads ? ch.read(buf.asSlice(0, 4096), (long) i * 4096, (c, e) -> done.incrementAndGet(), null)
                        : ch.write(buf, (long) i * 8192, (c, e) -> done.incrementAndGet(), null);
                assertTrue(ok);
                while (done.get() == before) {
                    ch.poll();
                }
            }
        } finally {
            bdev.freeBuffer(buf);
        }
    }
}
