package io.jvirtio.config;

import com.fasterxml.jackson.databind.JsonNode;
import io.jvirtio.spec.vhostuser.SocketInUseException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static io.jvirtio.config.TestJson.text;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The socket side of {@link RpcServer}, as SPDK's lib/jsonrpc behaves: values back to back and split
 * across writes, one compact response per line in order, notifications, batches and bad envelopes,
 * parse errors closing the connection, many connections, the socket file's ownership.
 */
class RpcServerTest {
    private final FakeControllerType blk = FakeControllerType.blk();
    private final FakeControllerType scsi = FakeControllerType.scsi();
    private final BdevRegistry registry = new BdevRegistry(ControllerTypes.of(blk, scsi));

    @TempDir
    Path dir;
    private Path socket;
    private RpcServer server;

    @BeforeEach
    void start() throws IOException {
        socket = dir.resolve("rpc.sock");
        server = RpcServer.start(socket, registry);
    }

    @AfterEach
    void stop() {
        server.close();
        registry.close();
    }

    /** A client connection with a read timeout. */
    private final class Client implements AutoCloseable {
        final AFUNIXSocket s;
        final InputStream in;
        final OutputStream out;
        private final ByteArrayOutputStream line = new ByteArrayOutputStream();

        Client() throws IOException {
            s = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(socket));
            s.setSoTimeout(10_000);
            in = s.getInputStream();
            out = s.getOutputStream();
        }

        void send(String text) throws IOException {
            out.write(text.getBytes(StandardCharsets.UTF_8));
            out.flush();
        }

        /** @return the next response line, or null at end of stream */
        String readLine() throws IOException {
            line.reset();
            int b;
            while ((b = in.read()) >= 0 && b != '\n') {
                line.write(b);
            }
            return b < 0 && line.size() == 0 ? null : line.toString(StandardCharsets.UTF_8);
        }

        @Override
        public void close() throws IOException {
            s.close();
        }
    }

    private static JsonNode parse(String line) {
        assertNotNull(line, "a response line");
        return SpdkJson.parse(line, "response");
    }

    @Test
    void answersRequestsBackToBackOnOneConnectionInOrder() throws IOException {
        try (Client c = new Client()) {
            // three requests in one write, no separator between the first two
            c.send("{\"jsonrpc\":\"2.0\",\"method\":\"bdev_virtio_attach_controller\",\"id\":1,"
                    + "\"params\":{\"name\":\"VirtioBlk0\",\"trtype\":\"user\",\"traddr\":\"/var/tmp/vhost.blk0\",\"dev_type\":\"blk\",\"vq_count\":1,\"vq_size\":128}}"
                    + "{\"jsonrpc\":\"2.0\",\"method\":\"bdev_wait_for_examine\",\"id\":\"two\"}\n"
                    + "  {\"jsonrpc\":\"2.0\",\"method\":\"bdev_virtio_detach_controller\",\"id\":3,\"params\":{\"name\":\"VirtioBlk0\"}}");
            assertEquals(text("rpc/attach_blk.response.raw.json").strip(), c.readLine());
            assertEquals("{\"jsonrpc\":\"2.0\",\"id\":\"two\",\"result\":true}", c.readLine());
            assertEquals("{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":true}", c.readLine());
        }
    }

    @Test
    void aRequestSplitAcrossManyWritesIsAnsweredOnceComplete() throws Exception {
        // rpc.py's own formatting: indented, strings with braces and escapes inside
        String request = "{\n  \"jsonrpc\": \"2.0\",\n  \"method\": \"bdev_get_bdevs\",\n  \"id\": 7,\n"
                + "  \"params\": {\n    \"name\": \"no}such{\\\"bdev]\"\n  }\n}";
        try (Client c = new Client()) {
            for (int i = 0; i < request.length(); i++) {
                c.send(request.substring(i, i + 1));
                if (i % 16 == 0) {
                    Thread.sleep(2);
                }
            }
            JsonNode r = parse(c.readLine());
            assertEquals(7, r.get("id").intValue());
            assertEquals(JsonRpc.NO_SUCH_DEVICE, r.get("error").get("code").intValue(), r.toString());
            assertTrue(r.get("error").get("message").asText().contains("no}such{"), r.toString());
        }
    }

    @Test
    void unknownMethodIsSpdksMethodNotFound() throws IOException {
        try (Client c = new Client()) {
            c.send("{\"jsonrpc\":\"2.0\",\"method\":\"bdev_malloc_create\",\"id\":4,\"params\":{\"num_blocks\":1,\"block_size\":512}}");
            assertEquals("{\"jsonrpc\":\"2.0\",\"id\":4,\"error\":{\"code\":-32601,\"message\":\"Method not found\"}}", c.readLine());
        }
    }

    @Test
    void badEnvelopesAndBatchesAreInvalidRequestsWithANullId() throws IOException {
        String invalid = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Invalid request\"}}";
        try (Client c = new Client()) {
            for (String bad : List.of(
                    "[{\"jsonrpc\":\"2.0\",\"method\":\"rpc_get_methods\",\"id\":1}]", // batch: SPDK does not support them
                    "{\"jsonrpc\":\"1.0\",\"method\":\"rpc_get_methods\",\"id\":1}",
                    "{\"jsonrpc\":\"2.0\",\"method\":5,\"id\":1}",
                    "{\"jsonrpc\":\"2.0\",\"id\":1}",
                    "{\"jsonrpc\":\"2.0\",\"method\":\"rpc_get_methods\",\"id\":{}}",
                    "{\"jsonrpc\":\"2.0\",\"method\":\"rpc_get_methods\",\"id\":1,\"params\":3}",
                    "\"a string\"", "42 ")) {
                c.send(bad);
                assertEquals(invalid, c.readLine(), bad);
            }
            // still open: jsonrpc may be absent, params null is no params
            c.send("{\"method\":\"spdk_get_version\",\"id\":9,\"params\":null}");
            assertEquals(9, parse(c.readLine()).get("id").intValue());
        }
    }

    @Test
    void notificationsGetNoResultButTheirErrors() throws IOException {
        try (Client c = new Client()) {
            c.send("{\"jsonrpc\":\"2.0\",\"method\":\"bdev_wait_for_examine\"}"
                    + "{\"jsonrpc\":\"2.0\",\"method\":\"bdev_wait_for_examine\",\"id\":null}"
                    + "{\"jsonrpc\":\"2.0\",\"method\":\"nosuch\"}"
                    + "{\"jsonrpc\":\"2.0\",\"method\":\"rpc_get_methods\",\"id\":2}");
            assertEquals("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32601,\"message\":\"Method not found\"}}", c.readLine());
            assertEquals(2, parse(c.readLine()).get("id").intValue());
        }
    }

    @Test
    void aParseErrorIsAnsweredAndClosesTheConnection() throws IOException {
        try (Client c = new Client()) {
            c.send("{\"jsonrpc\":\"2.0\",\"method\":\"rpc_get_methods\",\"id\":1,}");
            assertEquals("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"}}", c.readLine());
            assertNull(c.readLine(), "closed after a parse error");
        }
        try (Client c = new Client()) {
            c.send("// a comment\n{\"method\":\"rpc_get_methods\",\"id\":1}");
            assertEquals(-32700, parse(c.readLine()).get("error").get("code").intValue(), "no comments in JSON-RPC, as SPDK");
        }
    }

    @Test
    void aRequestLongerThanTheLimitIsAParseErrorAndClosesTheConnection() throws IOException {
        try (Client c = new Client()) {
            c.send("{\"jsonrpc\":\"2.0\",\"method\":\"bdev_get_bdevs\",\"id\":1,\"params\":{\"name\":\"");
            byte[] filler = new byte[64 * 1024];
            java.util.Arrays.fill(filler, (byte) 'x');
            try {
                for (int sent = 0; sent <= RpcServer.MAX_REQUEST_BYTES; sent += filler.length) {
                    c.out.write(filler);
                }
                c.out.flush();
            } catch (IOException e) {
                // the server may close before the last write: its answer is read below all the same
            }
            assertEquals("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"}}", c.readLine());
        }
        try (Client c = new Client()) {
            c.send("{\"method\":\"bdev_wait_for_examine\",\"id\":2}");
            assertEquals("{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":true}", c.readLine(), "the server still serves");
        }
    }

    @Test
    void frameworkMethodsAnswerInSpdksShape() throws IOException {
        try (Client c = new Client()) {
            c.send("{\"jsonrpc\":\"2.0\",\"method\":\"rpc_get_methods\",\"id\":1,\"params\":{\"current\":false,\"include_aliases\":false}}");
            JsonNode methods = parse(c.readLine()).get("result");
            List<String> names = new ArrayList<>();
            methods.forEach(m -> names.add(m.asText()));
            assertEquals(server.methods(), names);
            assertTrue(names.containsAll(List.of("bdev_virtio_attach_controller", "bdev_virtio_detach_controller",
                    "bdev_virtio_scsi_get_devices", "bdev_get_bdevs", "framework_get_config", "framework_get_subsystems",
                    "save_config", "rpc_get_methods", "spdk_get_version")), names.toString());

            c.send("{\"jsonrpc\":\"2.0\",\"method\":\"rpc_get_methods\",\"id\":2,\"params\":{\"current\":1}}");
            assertEquals("{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32602,\"message\":\"Invalid parameters\"}}", c.readLine());

            c.send("{\"jsonrpc\":\"2.0\",\"method\":\"spdk_get_version\",\"id\":3}");
            JsonNode v = parse(c.readLine()).get("result");
            assertEquals("jvirtio v0.1.0-SNAPSHOT", v.get("version").asText(), v.toString());
            assertEquals("{\"major\":0,\"minor\":1,\"patch\":0,\"suffix\":\"-SNAPSHOT\"}", SpdkJson.compact(v.get("fields")));
            c.send("{\"jsonrpc\":\"2.0\",\"method\":\"spdk_get_version\",\"id\":4,\"params\":{}}");
            assertEquals("{\"jsonrpc\":\"2.0\",\"id\":4,\"error\":{\"code\":-32602,\"message\":\"spdk_get_version method requires no parameters\"}}", c.readLine());

            c.send("{\"jsonrpc\":\"2.0\",\"method\":\"framework_get_subsystems\",\"id\":5}");
            assertEquals("{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":[{\"subsystem\":\"bdev\",\"depends_on\":[]}]}", c.readLine());
        }
    }

    @Test
    void everyListedMethodIsDispatched() throws IOException {
        try (Client c = new Client()) {
            for (String m : server.methods()) {
                c.send("{\"jsonrpc\":\"2.0\",\"method\":\"" + m + "\",\"id\":1}");
                JsonNode r = parse(c.readLine());
                assertNotEquals(JsonRpc.METHOD_NOT_FOUND, r.path("error").path("code").intValue(), m + ": " + r);
            }
        }
    }

    @Test
    void servesSeveralConnectionsAtOnce() throws IOException {
        List<Client> clients = new ArrayList<>();
        try {
            for (int i = 0; i < 5; i++) {
                clients.add(new Client());
            }
            for (int i = clients.size() - 1; i >= 0; i--) {
                clients.get(i).send("{\"jsonrpc\":\"2.0\",\"method\":\"bdev_wait_for_examine\",\"id\":" + i + "}");
            }
            for (int i = 0; i < clients.size(); i++) {
                assertEquals("{\"jsonrpc\":\"2.0\",\"id\":" + i + ",\"result\":true}", clients.get(i).readLine());
            }
        } finally {
            for (Client c : clients) {
                c.close();
            }
        }
    }

    @Test
    void closeEndsConnectionsAndRemovesTheSocketFile() throws IOException {
        Client c = new Client();
        c.send("{\"jsonrpc\":\"2.0\",\"method\":\"bdev_wait_for_examine\",\"id\":1}");
        assertNotNull(c.readLine());
        assertTrue(Files.exists(socket));
        server.close();
        assertFalse(Files.exists(socket), "socket file removed");
        try {
            assertNull(c.readLine(), "the connection was closed by the server");
        } catch (SocketTimeoutException e) {
            fail("the connection stayed open after close()");
        } catch (IOException e) {
            // reset: closed all the same
        } finally {
            c.close();
        }
        assertEquals(0, server.connectionCount());
        server.close(); // idempotent
    }

    @Test
    void refusesALiveSocketAndReplacesAStaleOne() throws IOException {
        SocketInUseException e = assertThrows(SocketInUseException.class, () -> RpcServer.start(socket, registry));
        assertTrue(e.getMessage().contains("live listener"), e.getMessage());

        Path stale = dir.resolve("stale.sock");
        AFUNIXServerSocket old = AFUNIXServerSocket.newInstance();
        old.setDeleteOnClose(false);
        old.bind(AFUNIXSocketAddress.of(stale));
        old.close();
        assertTrue(Files.exists(stale), "a stale socket file left behind");
        try (RpcServer again = RpcServer.start(stale, registry)) {
            assertEquals(stale, again.socket());
        }
        assertFalse(Files.exists(stale));
    }
}
