package io.jvirtio.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * One JSON-RPC value in, at most one response out, as SPDK's {@code lib/jsonrpc} and {@code lib/rpc}
 * answer: the request envelope checked as {@code parse_single_request} does, the framework methods
 * ({@code rpc_get_methods}, {@code spdk_get_version}, {@code framework_get_subsystems}) answered
 * here, every other method passed to {@link JsonRpc}. Requests run one at a time, whichever
 * connection they come from, as SPDK runs every RPC on its one RPC thread.
 *
 * <p>SPDK's rules kept here: {@code jsonrpc} may be absent, but if present must be {@code "2.0"};
 * {@code method} must be a string; {@code id} a string, number or null; {@code params} an object or
 * array ({@code null} counts as absent); anything else is {@code -32600 "Invalid request"} with a
 * null id. A batch (a top-level array) is refused the same way: SPDK does not support batches. A
 * request without an id (or with a null one) is a notification: a result is not sent, an error is.
 * An unknown method is {@code -32601 "Method not found"}.
 */
final class RpcDispatcher {
    private static final Logger LOG = LoggerFactory.getLogger(RpcDispatcher.class);
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    /** SPDK's {@code jsonrpc_server_handle_error} texts. */
    static final String PARSE_ERROR_MESSAGE = "Parse error";
    static final String INVALID_REQUEST_MESSAGE = "Invalid request";
    static final String METHOD_NOT_FOUND_MESSAGE = "Method not found";
    static final String INVALID_PARAMS_MESSAGE = "Invalid parameters";
    /** JSON-RPC parse error. */
    static final int PARSE_ERROR = -32700;

    private final JsonRpc bdevMethods;
    private final Map<String, Function<JsonNode, JsonNode>> framework;
    private final List<String> methods;
    private final RpcVersion version;
    private final ReentrantLock lock = new ReentrantLock();

    RpcDispatcher(BdevRegistry registry, RpcVersion version) {
        this.bdevMethods = new JsonRpc(Objects.requireNonNull(registry, "registry"));
        this.version = Objects.requireNonNull(version, "version");
        this.framework = Map.of(
                "rpc_get_methods", this::rpcGetMethods,
                "spdk_get_version", this::spdkGetVersion,
                "framework_get_subsystems", RpcDispatcher::frameworkGetSubsystems);
        TreeSet<String> all = new TreeSet<>(framework.keySet());
        all.addAll(JsonRpc.METHODS);
        this.methods = List.copyOf(all);
    }

    /** @return every method answered, sorted */
    List<String> methods() {
        return methods;
    }

    /**
     * Handles one top-level JSON value.
     *
     * @param value a parsed value (object, array or scalar)
     * @return the response, or empty for a notification that succeeded
     */
    Optional<ObjectNode> handle(JsonNode value) {
        if (!value.isObject()) {
            // SPDK: "Got batch array (not currently supported)", or a top-level scalar
            return Optional.of(error(null, JsonRpc.INVALID_REQUEST, INVALID_REQUEST_MESSAGE));
        }
        JsonNode version = value.get("jsonrpc");
        JsonNode method = value.get("method");
        JsonNode id = value.get("id");
        JsonNode params = value.get("params");
        if ((version != null && !(version.isTextual() && "2.0".equals(version.textValue())))
                || method == null || !method.isTextual()
                || (id != null && !(id.isTextual() || id.isNumber() || id.isNull()))
                || (params != null && !(params.isNull() || params.isObject() || params.isArray()))) {
            LOG.debug("invalid JSON-RPC request: {}", value);
            return Optional.of(error(null, JsonRpc.INVALID_REQUEST, INVALID_REQUEST_MESSAGE));
        }
        if (params != null && params.isNull()) {
            params = null;
        }
        boolean notification = id == null || id.isNull();
        ObjectNode response;
        lock.lock();
        try {
            response = call(method.textValue(), id, params);
        } finally {
            lock.unlock();
        }
        if (notification && response.has("result")) {
            return Optional.empty();
        }
        return Optional.of(response);
    }

    private ObjectNode call(String method, JsonNode id, JsonNode params) {
        Function<JsonNode, JsonNode> f = framework.get(method);
        if (f == null) {
            ObjectNode request = F.objectNode();
            request.put("jsonrpc", "2.0");
            request.put("method", method);
            request.set("id", id == null ? F.nullNode() : id);
            if (params != null) {
                request.set("params", params);
            }
            ObjectNode response = bdevMethods.handle(request);
            JsonNode err = response.get("error");
            if (err != null && err.path("code").intValue() == JsonRpc.METHOD_NOT_FOUND) {
                LOG.debug("JSON-RPC: {}", err.path("message").asText());
                ((ObjectNode) err).put("message", METHOD_NOT_FOUND_MESSAGE);
            }
            return response;
        }
        try {
            return result(id, f.apply(params));
        } catch (InvalidParams e) {
            return error(id, JsonRpc.INVALID_PARAMS, e.getMessage());
        }
    }

    /** {@code rpc_get_methods}: optional {@code current} and {@code include_aliases} (jvirtio has no aliases, and every method is callable now). */
    private JsonNode rpcGetMethods(JsonNode params) {
        if (params != null) {
            boolean ok = params.isObject();
            for (Map.Entry<String, JsonNode> e : ok ? params.properties() : List.<Map.Entry<String, JsonNode>>of()) {
                ok &= (e.getKey().equals("current") || e.getKey().equals("include_aliases")) && e.getValue().isBoolean();
            }
            if (!ok) {
                throw new InvalidParams(INVALID_PARAMS_MESSAGE);
            }
        }
        ArrayNode out = F.arrayNode();
        methods.forEach(out::add);
        return out;
    }

    /** {@code spdk_get_version}: SPDK's shape with jvirtio's version. */
    private JsonNode spdkGetVersion(JsonNode params) {
        if (params != null) {
            throw new InvalidParams("spdk_get_version method requires no parameters");
        }
        return version.toJson();
    }

    /** {@code framework_get_subsystems}: jvirtio has the bdev subsystem only (what rpc.py's save_config walks). */
    private static JsonNode frameworkGetSubsystems(JsonNode params) {
        if (params != null) {
            throw new InvalidParams("'framework_get_subsystems' requires no arguments");
        }
        ArrayNode out = F.arrayNode();
        ObjectNode bdev = out.addObject();
        bdev.put("subsystem", SaveConfig.SUBSYSTEM);
        bdev.putArray("depends_on");
        return out;
    }

    /** @return the response to a value that did not parse ({@code -32700 "Parse error"}, null id) */
    static ObjectNode parseError() {
        return error(null, PARSE_ERROR, PARSE_ERROR_MESSAGE);
    }

    private static ObjectNode result(JsonNode id, JsonNode result) {
        ObjectNode response = F.objectNode();
        response.put("jsonrpc", "2.0");
        response.set("id", id == null ? F.nullNode() : id);
        response.set("result", result);
        return response;
    }

    static ObjectNode error(JsonNode id, int code, String message) {
        ObjectNode response = F.objectNode();
        response.put("jsonrpc", "2.0");
        response.set("id", id == null ? F.nullNode() : id);
        ObjectNode error = response.putObject("error");
        error.put("code", code);
        error.put("message", message);
        return response;
    }

    /** A framework method's params were wrong; the message is SPDK's. */
    private static final class InvalidParams extends RuntimeException {
        InvalidParams(String message) {
            super(message, null, false, false);
        }
    }
}
