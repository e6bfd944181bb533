package io.jvirtio.tools;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A JSON-RPC 2.0 client on a Unix socket, as SPDK's {@code JSONRPCClient} talks to an SPDK
 * application or {@code jvirtio serve}: one connection, a request at a time, the answer read as one
 * JSON value (SPDK frames nothing). Errors name the socket, the method and SPDK's code and message.
 */
final class RpcClient implements AutoCloseable {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final Path socket;
    private final SocketChannel channel;
    private final InputStream in;
    /** created at the first answer: Jackson reads ahead to detect the encoding */
    private JsonParser parser;
    private final long timeoutMillis;
    private final ExecutorService reader = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().daemon().name("jvirtio-rpc-client")
            .unstarted(r));
    private int id;

    private RpcClient(Path socket, SocketChannel channel, long timeoutMillis) {
        this.socket = socket;
        this.channel = channel;
        this.timeoutMillis = timeoutMillis;
        this.in = Channels.newInputStream(channel);
    }

    /** Connects to {@code socket}; a missing or dead socket is an {@link IllegalStateException} naming it. */
    static RpcClient connect(Path socket, double timeoutSeconds) {
        SocketChannel ch = null;
        try {
            ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            ch.connect(UnixDomainSocketAddress.of(socket));
            return new RpcClient(socket, ch, Math.round(timeoutSeconds * 1000));
        } catch (IOException e) {
            if (ch != null) {
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // not connected
                }
            }
            throw new IllegalStateException("-s " + socket + ": cannot connect to the RPC socket: " + e.getMessage()
                    + " (is jvirtio serve or an SPDK application listening there?)", e);
        }
    }

    /**
     * Calls {@code method}.
     *
     * @param params the params object, or null for none
     * @return the result
     * @throws IllegalStateException on an error response (SPDK's code and message), a timeout, or a closed connection
     */
    JsonNode call(String method, Map<String, ?> params) {
        ObjectNode req = MAPPER.createObjectNode().put("jsonrpc", "2.0").put("method", method).put("id", ++id);
        if (params != null) {
            req.set("params", MAPPER.valueToTree(params));
        }
        try {
            channel.write(ByteBuffer.wrap(MAPPER.writeValueAsBytes(req)));
            Future<JsonNode> answer = reader.submit(() -> {
                if (parser == null) {
                    parser = MAPPER.getFactory().createParser(in);
                }
                return MAPPER.readTree(parser);
            });
            JsonNode resp;
            try {
                resp = answer.get(timeoutMillis, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                answer.cancel(true);
                throw new IllegalStateException(method + " on " + socket + ": no response within " + timeoutMillis + " ms");
            }
            if (resp == null) {
                throw new IllegalStateException(method + " on " + socket + ": the server closed the connection");
            }
            JsonNode error = resp.get("error");
            if (error != null) {
                throw new IllegalStateException(method + " on " + socket + ": error " + error.path("code").asInt() + ": "
                        + error.path("message").asText());
            }
            return resp.get("result");
        } catch (IOException e) {
            throw new UncheckedIOException(method + " on " + socket + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(method + " on " + socket + ": interrupted", e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException(method + " on " + socket + ": " + e.getCause().getMessage(), e.getCause());
        }
    }

    @Override
    public void close() {
        reader.shutdownNow();
        try {
            channel.close();
        } catch (IOException e) {
            // closing
        }
    }
}
