package io.jvirtio.config;

import io.jvirtio.bdev.Bdev;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

import static io.jvirtio.config.JsonObjectReader.quote;

/**
 * SPDK's bdev JSON-RPC methods over a {@link BdevRegistry}, answering as SPDK 24.01 does: the
 * per-method functions return the {@code result} value; {@link #handle(JsonNode)} wraps a whole
 * request into a {@code {"jsonrpc": "2.0", "id": ..., "result" | "error": ...}} response. Where SPDK
 * answers every bad request with {@code -32602 "Invalid argument"}, the error message here says
 * what was wrong, with the path inside the request ({@code params.vq_size: 100 is not a power of two});
 * the codes are SPDK's (-32602 invalid params, -19 no such device, -32601 no such method).
 *
 * <p>Methods: {@code bdev_virtio_attach_controller}, {@code bdev_virtio_detach_controller},
 * {@code bdev_get_bdevs}, {@code bdev_get_iostat}, {@code bdev_virtio_scsi_get_devices}, {@code bdev_wait_for_examine}, {@code framework_get_config} (bdev),
 * {@code save_config}, {@code save_subsystem_config} (bdev).
 */
public final class JsonRpc {
    private static final Logger LOG = LoggerFactory.getLogger(JsonRpc.class);

    /** JSON-RPC: invalid params (SPDK's {@code SPDK_JSONRPC_ERROR_INVALID_PARAMS}). */
    public static final int INVALID_PARAMS = -32602;
    /** JSON-RPC: method not found. */
    public static final int METHOD_NOT_FOUND = -32601;
    /** JSON-RPC: invalid request. */
    public static final int INVALID_REQUEST = -32600;
    /** JSON-RPC: internal error. */
    public static final int INTERNAL_ERROR = -32603;
    /** SPDK's {@code -ENODEV} answer ("No such device"). */
    public static final int NO_SUCH_DEVICE = -19;

    /**
     * The methods {@link #handle(JsonNode)} answers, as {@code rpc_get_methods} lists them through
     * {@link RpcServer}: a method added to the dispatch in {@code handle} is added here too.
     */
    public static final List<String> METHODS = List.of(
            ControllerParams.METHOD,
            "bdev_virtio_detach_controller",
            "bdev_get_bdevs",
            "bdev_get_iostat",
            "bdev_virtio_scsi_get_devices",
            "bdev_wait_for_examine",
            "framework_get_config",
            "save_subsystem_config",
            "save_config");

    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    private static final JsonPath PARAMS = JsonPath.of("params");

    private final BdevRegistry registry;

    /** @param registry the registry the methods act on */
    public JsonRpc(BdevRegistry registry) {
        this.registry = Objects.requireNonNull(registry, "registry");
    }

    /**
     * {@code bdev_virtio_attach_controller}.
     *
     * @param params the request's params object
     * @return the result: an array of the new bdevs' names
     * @throws ConfigException with paths under {@code params}
     */
    public ArrayNode attachController(JsonNode params) {
        ControllerParams p;
        try {
            p = ControllerParams.fromJson(params == null ? MissingNode.getInstance() : params);
        } catch (ConfigException e) {
            throw e.at(PARAMS);
        }
        ArrayNode out = F.arrayNode();
        registry.attach(p, PARAMS).forEach(out::add);
        return out;
    }

    /**
     * {@code bdev_virtio_detach_controller}.
     *
     * @return the result: {@code true}
     * @throws NoSuchDeviceException when no such controller is attached
     */
    public BooleanNode detachController(JsonNode params) {
        JsonObjectReader r = JsonObjectReader.of(params, PARAMS, "the params of bdev_virtio_detach_controller");
        r.allowOnly("bdev_virtio_detach_controller", Set.of("name"));
        String name = r.requiredString("name", "bdev_virtio_detach_controller requires the controller name");
        registry.detach(name, PARAMS.field("name"));
        return BooleanNode.TRUE;
    }

    /**
     * {@code bdev_get_bdevs}: every bdev, or with {@code params.name} that one ({@code timeout} is
     * accepted: attach is synchronous, there is nothing to wait for).
     *
     * @return the result array
     * @throws NoSuchDeviceException for a name that is not attached
     */
    public ArrayNode getBdevs(JsonNode params) {
        if (params == null || params.isNull()) {
            return BdevJson.bdevGetBdevs(registry);
        }
        JsonObjectReader r = JsonObjectReader.of(params, PARAMS, "the params of bdev_get_bdevs");
        r.allowOnly("bdev_get_bdevs", new LinkedHashSet<>(List.of("name", "timeout")));
        r.optionalUint32("timeout");
        Optional<String> name = r.optionalString("name");
        if (name.isEmpty()) {
            return BdevJson.bdevGetBdevs(registry);
        }
        try {
            return BdevJson.bdevGetBdevs(registry, name.get());
        } catch (ConfigException e) {
            throw e.at(PARAMS.field("name"));
        }
    }

    /**
     * {@code bdev_get_iostat}: every bdev's I/O statistics; with {@code params.name} that one bdev's;
     * with {@code per_channel} (which needs {@code name}, as in SPDK) each open channel of it. SPDK's
     * {@code reset_mode} and {@code names} are not supported.
     *
     * @return the result object
     * @throws NoSuchDeviceException for a name that is not attached (SPDK's -19)
     */
    public ObjectNode getIostat(JsonNode params) {
        if (params == null || params.isNull()) {
            return IostatJson.bdevGetIostat(registry);
        }
        JsonObjectReader r = JsonObjectReader.of(params, PARAMS, "the params of bdev_get_iostat");
        r.allowOnly("bdev_get_iostat", new LinkedHashSet<>(List.of("name", "per_channel")));
        Optional<String> name = r.optionalString("name");
        boolean perChannel = r.optionalBoolean("per_channel").orElse(false);
        if (perChannel && name.isEmpty()) {
            throw new ConfigException(PARAMS.field("per_channel"), "per_channel needs one bdev: give its name");
        }
        if (name.isEmpty()) {
            return IostatJson.bdevGetIostat(registry);
        }
        Bdev bdev;
        try {
            bdev = registry.bdev(name.get());
        } catch (ConfigException e) {
            throw e.at(PARAMS.field("name"));
        }
        return perChannel ? IostatJson.perChannel(bdev) : IostatJson.bdevGetIostat(List.of(bdev));
    }

    /**
     * {@code framework_get_config} with {@code {"name": "bdev"}}.
     *
     * @return the bdev subsystem's config entries
     */
    public ArrayNode frameworkGetConfig(JsonNode params) {
        checkSubsystemName(params, "framework_get_config");
        return SaveConfig.bdevConfig(registry);
    }

    /** @return {@code save_subsystem_config} with {@code {"name": "bdev"}} */
    public ObjectNode saveSubsystemConfig(JsonNode params) {
        checkSubsystemName(params, "save_subsystem_config");
        return SaveConfig.subsystemConfig(registry);
    }

    private static void checkSubsystemName(JsonNode params, String method) {
        JsonObjectReader r = JsonObjectReader.of(params, PARAMS, "the params of " + method);
        r.allowOnly(method, Set.of("name"));
        String name = r.requiredString("name", method + " requires the subsystem name");
        if (!SaveConfig.SUBSYSTEM.equals(name)) {
            throw new ConfigException(PARAMS.field("name"), quote(name) + " is not a subsystem of jvirtio; it has only \"bdev\"");
        }
    }

    /**
     * Handles one JSON-RPC request object.
     *
     * @param request {@code {"jsonrpc": "2.0", "method": ..., "id": ..., "params": ...}}
     * @return the response, {@code result} or {@code error} ({@code id} null when the request had none)
     */
    public ObjectNode handle(JsonNode request) {
        JsonNode id = request != null && request.isObject() ? request.get("id") : null;
        try {
            if (request == null || !request.isObject()) {
                return error(id, INVALID_REQUEST, "a request is a JSON object, not " + (request == null ? "nothing" : JsonObjectReader.show(request)));
            }
            JsonNode method = request.get("method");
            if (method == null || !method.isTextual()) {
                return error(id, INVALID_REQUEST, "method: " + (method == null ? "missing" : JsonObjectReader.wrongType(method, "a string")));
            }
            JsonNode version = request.get("jsonrpc");
            if (version == null || !"2.0".equals(version.asText())) {
                return error(id, INVALID_REQUEST, "jsonrpc: " + (version == null ? "missing" : JsonObjectReader.show(version)) + ", expected \"2.0\"");
            }
            JsonNode params = request.get("params");
            JsonNode result = switch (method.textValue()) {
                case ControllerParams.METHOD -> attachController(params);
                case "bdev_virtio_detach_controller" -> detachController(params);
                case "bdev_get_bdevs" -> getBdevs(params);
                case "bdev_get_iostat" -> getIostat(params);
                case "bdev_virtio_scsi_get_devices" -> {
                    if (params != null) {
                        throw new ConfigException(PARAMS, "bdev_virtio_scsi_get_devices takes no parameters");
                    }
                    yield BdevJson.virtioScsiGetDevices(registry);
                }
                case "bdev_wait_for_examine" -> BooleanNode.TRUE;
                case "framework_get_config" -> frameworkGetConfig(params);
                case "save_subsystem_config" -> saveSubsystemConfig(params);
                case "save_config" -> SaveConfig.saveConfig(registry);
                default -> null;
            };
            if (result == null) {
                return error(id, METHOD_NOT_FOUND, "Method not found: " + quote(method.textValue()));
            }
            ObjectNode response = F.objectNode();
            response.put("jsonrpc", "2.0");
            response.set("id", id);
            response.set("result", result);
            return response;
        } catch (NoSuchDeviceException e) {
            return error(id, NO_SUCH_DEVICE, e.getMessage());
        } catch (ConfigException e) {
            return error(id, INVALID_PARAMS, e.getMessage());
        } catch (RuntimeException e) {
            LOG.warn("JSON-RPC request failed: {}", e.toString(), e);
            return error(id, INTERNAL_ERROR, e.getMessage() == null ? e.toString() : e.getMessage());
        }
    }

    /** Parses and handles one request, answering on one line as SPDK's server does. */
    public String handle(String requestJson) {
        JsonNode request;
        try {
            request = SpdkJson.parse(requestJson, null);
        } catch (ConfigException e) {
            return SpdkJson.compact(error(null, -32700, e.getMessage()));
        }
        return SpdkJson.compact(handle(request));
    }

    private static ObjectNode error(JsonNode id, int code, String message) {
        ObjectNode response = F.objectNode();
        response.put("jsonrpc", "2.0");
        response.set("id", id);
        ObjectNode error = response.putObject("error");
        error.put("code", code);
        error.put("message", message);
        return response;
    }
}
