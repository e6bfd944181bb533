package io.jvirtio.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;

/**
 * Reads members of one JSON object with SPDK's decoder rules (exact types, no unknown keys), raising
 * {@link ConfigException}s that name the member's path and the value. Package-private helper.
 */
final class JsonObjectReader {
    private static final int MAX_SHOWN = 80;

    private final ObjectNode node;
    private final JsonPath path;

    private JsonObjectReader(ObjectNode node, JsonPath path) {
        this.node = node;
        this.path = path;
    }

    /**
     * @param node the value that must be an object
     * @param path where it is
     * @param what what it is, for the error ("params of bdev_virtio_attach_controller")
     */
    static JsonObjectReader of(JsonNode node, JsonPath path, String what) {
        if (node == null || node.isMissingNode()) {
            throw new ConfigException(path, "missing; expected " + what + " (a JSON object)");
        }
        if (!node.isObject()) {
            throw new ConfigException(path, wrongType(node, what + " (a JSON object)"));
        }
        return new JsonObjectReader((ObjectNode) node, path);
    }

    ObjectNode node() {
        return node;
    }

    JsonPath path() {
        return path;
    }

    boolean has(String key) {
        return node.has(key);
    }

    /** Refuses params not in {@code allowed}, naming every one of them and the allowed ones. */
    void allowOnly(String what, Set<String> allowed) {
        allowOnly("parameter", what, allowed);
    }

    /**
     * Refuses members not in {@code allowed}, naming every one of them and the allowed ones.
     *
     * @param noun    what a member is called in the message ("parameter", "member")
     * @param what    what the object is ("bdev_virtio_attach_controller")
     * @param allowed the allowed members, in the order to list them
     */
    void allowOnly(String noun, String what, Set<String> allowed) {
        List<String> unknown = new ArrayList<>();
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!allowed.contains(k)) {
                unknown.add(k);
            }
        }
        if (unknown.isEmpty()) {
            return;
        }
        JsonPath at = unknown.size() == 1 ? path.field(unknown.get(0)) : path;
        String names = String.join(", ", unknown.stream().map(JsonObjectReader::quote).toList());
        throw new ConfigException(at, "unknown " + noun + (unknown.size() == 1 ? " " : "s ") + names
                + " (" + what + " takes " + String.join(", ", allowed) + ")");
    }

    /** @return the member, which must be a string */
    String requiredString(String key, String requiredNote) {
        JsonNode v = node.get(key);
        if (v == null) {
            throw new ConfigException(path.field(key), "missing; " + requiredNote);
        }
        return string(v, path.field(key));
    }

    Optional<String> optionalString(String key) {
        JsonNode v = node.get(key);
        return v == null ? Optional.empty() : Optional.of(string(v, path.field(key)));
    }

    /** @return the member as a boolean (SPDK's {@code spdk_json_decode_bool}), or empty when absent */
    Optional<Boolean> optionalBoolean(String key) {
        JsonNode v = node.get(key);
        if (v == null) {
            return Optional.empty();
        }
        if (!v.isBoolean()) {
            throw new ConfigException(path.field(key), wrongType(v, "a boolean"));
        }
        return Optional.of(v.booleanValue());
    }

    /** @return the member as an unsigned 32-bit integer (SPDK's {@code spdk_json_decode_uint32}), or empty when absent */
    OptionalLong optionalUint32(String key) {
        return optionalInteger(key, BigInteger.ZERO, BigInteger.valueOf(0xffff_ffffL));
    }

    /** @return the member as a signed 32-bit integer (SPDK's {@code spdk_json_decode_int32}), or empty when absent */
    OptionalLong optionalInt32(String key) {
        return optionalInteger(key, BigInteger.valueOf(Integer.MIN_VALUE), BigInteger.valueOf(Integer.MAX_VALUE));
    }

    private OptionalLong optionalInteger(String key, BigInteger min, BigInteger max) {
        JsonNode v = node.get(key);
        if (v == null) {
            return OptionalLong.empty();
        }
        JsonPath at = path.field(key);
        if (!v.isNumber()) {
            throw new ConfigException(at, wrongType(v, "an integer"));
        }
        if (!v.isIntegralNumber()) {
            throw new ConfigException(at, show(v) + " is not an integer");
        }
        BigInteger b = v.bigIntegerValue();
        if (b.compareTo(min) < 0 || b.compareTo(max) > 0) {
            throw new ConfigException(at, show(v) + " is out of range (" + min + " to " + max + ")");
        }
        return OptionalLong.of(b.longValue());
    }

    static String string(JsonNode v, JsonPath at) {
        if (!v.isTextual()) {
            throw new ConfigException(at, wrongType(v, "a string"));
        }
        return v.textValue();
    }

    /** @return e.g. {@code "1" is a string, not an integer}; {@code null is not a string} */
    static String wrongType(JsonNode v, String expected) {
        return v.isNull() ? "null is not " + expected : show(v) + " is " + kind(v) + ", not " + expected;
    }

    /** @return the value as compact JSON (strings quoted), shortened when long */
    static String show(JsonNode v) {
        if (v == null || v.isMissingNode()) {
            return "(nothing)";
        }
        String s = v.toString();
        return s.length() <= MAX_SHOWN ? s : s.substring(0, MAX_SHOWN - 3) + "...";
    }

    /** @return a JSON value quoted as JSON */
    static String quote(String s) {
        return com.fasterxml.jackson.databind.node.TextNode.valueOf(s).toString();
    }

    /** @return "a string", "an array", ... */
    static String kind(JsonNode v) {
        return switch (v.getNodeType()) {
            case STRING -> "a string";
            case NUMBER -> v.isIntegralNumber() ? "an integer" : "a number";
            case BOOLEAN -> "a boolean";
            case NULL -> "null";
            case ARRAY -> "an array";
            case OBJECT, POJO -> "an object";
            case BINARY -> "binary";
            case MISSING -> "missing";
        };
    }
}
