package io.jvirtio.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * One client of the {@link RpcServer}: reads requests, back to back and split across reads as they
 * come ({@link JsonValueFramer}), answers each in order on one line ({@code {...}\n}, as SPDK's
 * {@code end_response} writes). A value that does not parse is answered {@code -32700 "Parse error"}
 * and the connection is closed, as SPDK does: a JSON stream has no point to resynchronise at.
 */
final class RpcConnection implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(RpcConnection.class);
    /** JSON-RPC requests as SPDK parses them: no comments, nothing after the value. */
    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private final Socket socket;
    private final RpcDispatcher dispatcher;
    private final int maxRequestBytes;
    private final String name;
    private final Runnable onClose;

    RpcConnection(Socket socket, RpcDispatcher dispatcher, int maxRequestBytes, String name, Runnable onClose) {
        this.socket = socket;
        this.dispatcher = dispatcher;
        this.maxRequestBytes = maxRequestBytes;
        this.name = name;
        this.onClose = onClose;
    }

    @Override
    public void run() {
        LOG.debug("{}: connected", name);
        try (socket) {
            serve(socket.getInputStream(), socket.getOutputStream());
        } catch (IOException e) {
            if (!socket.isClosed()) {
                LOG.debug("{}: {}", name, e.toString());
            }
        } finally {
            onClose.run();
            LOG.debug("{}: closed", name);
        }
    }

    private void serve(InputStream in, OutputStream out) throws IOException {
        JsonValueFramer framer = new JsonValueFramer(maxRequestBytes);
        byte[] chunk = new byte[8192];
        while (true) {
            int n = in.read(chunk);
            if (n < 0) {
                if (framer.pending() > 0) {
                    LOG.debug("{}: peer closed with {} bytes of an incomplete request", name, framer.pending());
                }
                return;
            }
            framer.append(chunk, 0, n);
            // every next() may meet a request over the limit, the first of a read or a later one
            try {
                for (byte[] value = framer.next(); value != null; value = framer.next()) {
                    if (!answer(value, out)) {
                        return;
                    }
                }
            } catch (JsonValueFramer.ValueTooLongException e) {
                LOG.warn("{}: {}; closing the connection", name, e.getMessage());
                send(out, RpcDispatcher.parseError());
                return;
            }
        }
    }

    /** @return false when the connection is to be closed (a parse error) */
    private boolean answer(byte[] value, OutputStream out) throws IOException {
        JsonNode request;
        try {
            request = MAPPER.readTree(value);
        } catch (JsonProcessingException e) {
            LOG.debug("{}: parse error in {}: {}", name, new String(value, StandardCharsets.UTF_8), e.getOriginalMessage());
            send(out, RpcDispatcher.parseError());
            return false;
        }
        Optional<ObjectNode> response = dispatcher.handle(request);
        if (response.isPresent()) {
            send(out, response.get());
        }
        return true;
    }

    private static void send(OutputStream out, ObjectNode response) throws IOException {
        out.write((SpdkJson.compact(response) + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** Closes the socket: the reader thread ends. */
    void close() {
        try {
            socket.close();
        } catch (IOException e) {
            LOG.debug("{}: closing: {}", name, e.toString());
        }
    }
}
