package io.jvirtio.config;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fuzz target 5: what a user or an RPC client sends. Controllers are the registry tests' fakes
 * (blk and scsi; attaching {@value #FAILING} fails), so a config can attach, detach and fail
 * half-way without a device.
 *
 * <ul>
 *   <li>{@code config}: {@link ConfigLoader#loadString} returns or throws a {@link ConfigException}
 *       with a message and a JSON path; a failed load leaves nothing attached.</li>
 *   <li>{@code rpc}: {@link JsonRpc#handle(String)} never throws and always answers one JSON-RPC 2.0
 *       object with a result or an error, never "internal error" (-32603, an unexpected exception).</li>
 *   <li>{@code framer}: {@link JsonValueFramer} cuts the same values from a stream however it is split
 *       into reads, and hands out no value longer than its limit.</li>
 * </ul>
 */
class JsonFuzzTest {
    static final String FAILING = "/fuzz/fail.sock";
    private static final ObjectMapper JSON = new ObjectMapper();

    static {
        System.setProperty("org.slf4j.simpleLogger.log.io.jvirtio", "off");
    }

    @FuzzTest(maxDuration = "10m")
    @Timeout(10)
    void config(byte[] input) {
        String json = new String(input, StandardCharsets.UTF_8);
        FakeControllerType blk = FakeControllerType.blk();
        FakeControllerType scsi = FakeControllerType.scsi();
        blk.failingTraddrs.add(FAILING);
        scsi.failingTraddrs.add(FAILING);
        try (BdevRegistry registry = new BdevRegistry(ControllerTypes.of(blk, scsi))) {
            try {
                LoadResult r = new ConfigLoader(registry).loadString(json);
                assertNotNull(r);
            } catch (ConfigException e) {
                assertNotNull(e.jsonPath(), "a config error without a JSON path");
                assertFalse(e.getMessage() == null || e.getMessage().isBlank(), "a config error without a message");
                assertTrue(registry.controllers().isEmpty(), "a failed load left " + registry.controllerNames() + " attached");
                assertEquals(0, blk.open.get() + scsi.open.get(), "a failed load left controllers open");
            }
        }
    }

    @FuzzTest(maxDuration = "10m")
    @Timeout(10)
    void rpc(byte[] input) throws Exception {
        String request = new String(input, StandardCharsets.UTF_8);
        FakeControllerType blk = FakeControllerType.blk();
        blk.failingTraddrs.add(FAILING);
        try (BdevRegistry registry = new BdevRegistry(ControllerTypes.of(blk, FakeControllerType.scsi()))) {
            JsonRpc rpc = new JsonRpc(registry);
            String answer = rpc.handle(request);
            JsonNode a = JSON.readTree(answer);
            assertTrue(a.isObject(), "answer " + answer);
            assertEquals("2.0", a.path("jsonrpc").asText(), "answer " + answer);
            assertTrue(a.has("result") != a.has("error"), "answer " + answer);
            if (a.has("error")) {
                assertNotEquals(JsonRpc.INTERNAL_ERROR, a.path("error").path("code").asInt(), "answer " + answer);
                assertFalse(a.path("error").path("message").asText().isBlank(), "answer " + answer);
            }
        }
    }

    @FuzzTest(maxDuration = "10m")
    @Timeout(10)
    void framer(FuzzedDataProvider in) {
        int max = in.consumeInt(1, 256);
        int[] cuts = new int[in.consumeInt(0, 16)];
        for (int i = 0; i < cuts.length; i++) {
            cuts[i] = in.consumeInt(0, 64);
        }
        byte[] stream = in.consumeRemainingAsBytes();
        List<byte[]> whole = new ArrayList<>();
        boolean wholeTooLong = frame(max, stream, new int[0], whole);
        List<byte[]> chunked = new ArrayList<>();
        boolean chunkedTooLong = frame(max, stream, cuts, chunked);
        for (byte[] v : whole) {
            assertTrue(v.length <= max, "a value of " + v.length + " bytes came out of a framer limited to " + max);
        }
        if (!wholeTooLong && !chunkedTooLong) {
            assertEquals(whole.size(), chunked.size(), "values framed from one read and from several");
            for (int i = 0; i < whole.size(); i++) {
                assertArrayEquals(whole.get(i), chunked.get(i), "value " + i);
            }
        }
    }

    /** @return whether the framer refused a value as too long */
    private static boolean frame(int max, byte[] stream, int[] cuts, List<byte[]> out) {
        JsonValueFramer f = new JsonValueFramer(max);
        int at = 0;
        int c = 0;
        try {
            while (at < stream.length) {
                int n = c < cuts.length ? Math.min(cuts[c++], stream.length - at) : stream.length - at;
                f.append(stream, at, n);
                at += n;
                for (byte[] v = f.next(); v != null; v = f.next()) {
                    out.add(v);
                }
            }
        } catch (JsonValueFramer.ValueTooLongException e) {
            return true;
        }
        return false;
    }

}
