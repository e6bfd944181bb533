package io.jvirtio.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/** Reference files (copied from SPDK 24.01 output into src/test/resources/spdk-json) and JSON comparison. */
final class TestJson {
    private TestJson() {
    }

    /** @return the text of {@code spdk-json/NAME} from the test class path */
    static String text(String name) {
        try (InputStream in = TestJson.class.getResourceAsStream("/spdk-json/" + name)) {
            assertNotNull(in, "test resource spdk-json/" + name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** @return {@code spdk-json/NAME} parsed */
    static JsonNode json(String name) {
        return SpdkJson.parse(text(name), name);
    }

    /**
     * Field by field and in order: equal when the formatted texts are (object member order counts,
     * which JsonNode.equals ignores).
     */
    static void assertSameJson(JsonNode expected, JsonNode actual) {
        assertEquals(SpdkJson.format(expected), SpdkJson.format(actual));
    }

    /** Replaces every string value equal to {@code from} with {@code to}, in place. */
    static JsonNode replaceStrings(JsonNode node, String from, String to) {
        if (node instanceof ObjectNode o) {
            o.properties().forEach(e -> {
                if (e.getValue().isTextual() && e.getValue().textValue().equals(from)) {
                    o.put(e.getKey(), to);
                } else {
                    replaceStrings(e.getValue(), from, to);
                }
            });
        } else if (node instanceof ArrayNode a) {
            for (int i = 0; i < a.size(); i++) {
                if (a.get(i).isTextual() && a.get(i).textValue().equals(from)) {
                    a.set(i, to);
                } else {
                    replaceStrings(a.get(i), from, to);
                }
            }
        }
        return node;
    }

    /** Removes the elements of array {@code a} that match. */
    static ArrayNode removeIf(ArrayNode a, Predicate<JsonNode> p) {
        for (int i = a.size() - 1; i >= 0; i--) {
            if (p.test(a.get(i))) {
                a.remove(i);
            }
        }
        return a;
    }

    /** @return whether the config entry's method is {@code method} */
    static Predicate<JsonNode> method(String method) {
        return e -> method.equals(e.path("method").asText());
    }

    /** @return whether the entry attaches a controller of {@code devType} */
    static Predicate<JsonNode> attachOf(String devType) {
        return e -> ControllerParams.METHOD.equals(e.path("method").asText()) && devType.equals(e.path("params").path("dev_type").asText());
    }

    /** @return a deep copy of the bdev subsystem object of a save_config tree */
    static ObjectNode bdevSubsystem(JsonNode saveConfig) {
        for (JsonNode s : saveConfig.get("subsystems")) {
            if ("bdev".equals(s.get("subsystem").asText())) {
                return (ObjectNode) s;
            }
        }
        throw new AssertionError("no bdev subsystem in " + saveConfig);
    }
}
