package io.jvirtio.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

import static io.jvirtio.config.JsonObjectReader.quote;

/**
 * Loads SPDK JSON config ({@code spdk_tgt --json}'s format, {@code save_config}'s output) into a
 * {@link BdevRegistry}:
 * <pre>{@code {"subsystems": [{"subsystem": "bdev", "config": [{"method": ..., "params": {...}}, ...]}, ...]}}</pre>
 * Also taken: one subsystem object ({@code save_subsystem_config}'s output) and a bare bdev config
 * array ({@code framework_get_config bdev}'s output).
 *
 * <p>In the bdev subsystem, {@code bdev_virtio_attach_controller} and
 * {@code bdev_virtio_detach_controller} are carried out in order. SPDK's generic entries that change
 * nothing for virtio bdevs ({@code bdev_set_options}, {@code bdev_nvme_set_options},
 * {@code bdev_wait_for_examine}, hotplug switched off, ...) are accepted and logged at debug.
 * Methods that would create bdevs jvirtio cannot make ({@code bdev_malloc_create},
 * {@code bdev_nvme_attach_controller}, ...) or set what jvirtio lacks ({@code bdev_set_qos_limit})
 * are an error naming the method and its path, or skipped with a warning under
 * {@link LoadOptions#skipUnsupportedMethods()}; an unknown method is always an error. Subsystems
 * other than bdev (iobuf, sock, accel, vmd, nbd, ...) configure SPDK's own framework: they are
 * accepted and ignored, with a debug log.
 *
 * <p>The whole file is checked before anything is attached (structure, methods, params, dev_types,
 * names as the entries would leave them). It then runs holding the registry; if an entry fails,
 * every controller this load attached is detached again, newest first, and the error says so.
 * Every error names the file, the JSON path and the value:
 * {@code config.json: subsystems[0].config[2].params.vq_size: 100 is not a power of two}.
 */
public final class ConfigLoader {
    private static final Logger LOG = LoggerFactory.getLogger(ConfigLoader.class);
    private static final String CONFIG_SHAPE = "an SPDK JSON config: {\"subsystems\": [...]} as save_config writes it"
            + " (or one subsystem {\"subsystem\": \"bdev\", \"config\": [...]}, or a bdev config array [{\"method\": ...}, ...])";
    private static final String DETACH = "bdev_virtio_detach_controller";

    private final BdevRegistry registry;
    private final LoadOptions options;

    /** A loader with {@link LoadOptions#defaults()}. */
    public ConfigLoader(BdevRegistry registry) {
        this(registry, LoadOptions.defaults());
    }

    /**
     * @param registry where controllers are attached
     * @param options  how to treat unsupported methods
     */
    public ConfigLoader(BdevRegistry registry, LoadOptions options) {
        this.registry = Objects.requireNonNull(registry, "registry");
        this.options = Objects.requireNonNull(options, "options");
    }

    // ------------------------------------------------------------------ entry points

    /**
     * Loads a config file.
     *
     * @return what was attached, detached and skipped
     * @throws ConfigException naming the file, the JSON path and the value; nothing this load attached stays attached
     */
    public LoadResult load(Path configFile) {
        JsonNode root = SpdkJson.read(configFile);
        try {
            return load(root);
        } catch (ConfigException e) {
            throw e.in(configFile.toString());
        }
    }

    /**
     * Loads config JSON text.
     *
     * @throws ConfigException naming the JSON path and the value (line and column for malformed JSON)
     */
    public LoadResult loadString(String json) {
        return load(SpdkJson.parse(json, null));
    }

    /**
     * Loads a parsed config.
     *
     * @throws ConfigException naming the JSON path and the value
     */
    public LoadResult load(JsonNode root) {
        Objects.requireNonNull(root, "root");
        return registry.exclusive(() -> execute(plan(root)));
    }

    // ------------------------------------------------------------------ steps

    private sealed interface Step permits Attach, Detach, NoOp, Skip {
        JsonPath path();
    }

    private record Attach(JsonPath path, ControllerParams params) implements Step {
    }

    private record Detach(JsonPath path, String name) implements Step {
    }

    private record NoOp(JsonPath path, String method) implements Step {
    }

    private record Skip(JsonPath path, String method, String reason) implements Step {
    }

    // ------------------------------------------------------------------ phase 1: check everything

    private List<Step> plan(JsonNode root) {
        List<Step> steps = new ArrayList<>();
        if (root.isObject() && root.has("subsystems")) {
            JsonObjectReader r = JsonObjectReader.of(root, JsonPath.root(), "an SPDK JSON config");
            r.allowOnly("member", "an SPDK JSON config", Set.of("subsystems"));
            JsonNode subsystems = root.get("subsystems");
            JsonPath at = JsonPath.root().field("subsystems");
            if (subsystems.isNull()) {
                LOG.debug("subsystems is null: nothing to load");
            } else if (!subsystems.isArray()) {
                throw new ConfigException(at, JsonObjectReader.wrongType(subsystems, "an array of subsystems"));
            } else {
                for (int i = 0; i < subsystems.size(); i++) {
                    subsystem(subsystems.get(i), at.index(i), steps);
                }
            }
        } else if (root.isObject() && root.has("subsystem")) {
            subsystem(root, JsonPath.root(), steps);
        } else if (root.isArray()) {
            entries(root, JsonPath.root(), steps);
        } else if (root.isObject()) {
            throw new ConfigException(JsonPath.root(), "no \"subsystems\" member (members: "
                    + String.join(", ", iterable(root.fieldNames())) + "); expected " + CONFIG_SHAPE);
        } else {
            throw new ConfigException(JsonPath.root(), JsonObjectReader.wrongType(root, CONFIG_SHAPE));
        }
        checkNames(steps);
        return steps;
    }

    private static List<String> iterable(Iterator<String> it) {
        List<String> out = new ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }

    private void subsystem(JsonNode node, JsonPath at, List<Step> steps) {
        JsonObjectReader r = JsonObjectReader.of(node, at, "a subsystem {\"subsystem\": NAME, \"config\": [...]}");
        r.allowOnly("member", "a subsystem", new LinkedHashSet<>(List.of("subsystem", "config")));
        String name = r.requiredString("subsystem", "each subsystem names itself (\"subsystem\": \"bdev\")");
        JsonNode config = node.get("config");
        JsonPath configAt = at.field("config");
        if (config == null) {
            throw new ConfigException(configAt, "missing; subsystem " + name + " needs \"config\": [...] (or null)");
        }
        if (!config.isNull() && !config.isArray()) {
            throw new ConfigException(configAt, JsonObjectReader.wrongType(config, "an array of config entries"));
        }
        if (!SaveConfig.SUBSYSTEM.equals(name)) {
            LOG.debug("{}: subsystem {} ignored ({} entries): jvirtio configures the bdev subsystem only", at, name,
                    config.isNull() ? 0 : config.size());
            return;
        }
        if (!config.isNull()) {
            entries(config, configAt, steps);
        }
    }

    private void entries(JsonNode array, JsonPath at, List<Step> steps) {
        for (int i = 0; i < array.size(); i++) {
            entry(array.get(i), at.index(i), steps);
        }
    }

    private void entry(JsonNode node, JsonPath at, List<Step> steps) {
        JsonObjectReader r = JsonObjectReader.of(node, at, "a config entry {\"method\": ..., \"params\": {...}}");
        r.allowOnly("member", "a config entry", new LinkedHashSet<>(List.of("method", "params")));
        String method = r.requiredString("method", "each config entry names its method");
        JsonNode params = node.get("params");
        JsonPath paramsAt = at.field("params");
        if (params != null && !params.isObject()) {
            throw new ConfigException(paramsAt, JsonObjectReader.wrongType(params, "the params of " + method + " (a JSON object)"));
        }
        JsonPath methodAt = at.field("method");
        BdevMethods.Kind kind = BdevMethods.kind(method).orElseThrow(() -> new ConfigException(methodAt, quote(method)
                + " is not a bdev method jvirtio knows" + BdevMethods.nearest(method).map(m -> " (did you mean " + quote(m) + "?)").orElse("")));
        switch (kind) {
            case ATTACH -> {
                ControllerParams p;
                try {
                    p = ControllerParams.fromJson(params == null ? missing() : params);
                } catch (ConfigException e) {
                    throw e.at(paramsAt);
                }
                registry.validate(p, paramsAt);
                steps.add(new Attach(at, p));
            }
            case DETACH -> {
                JsonObjectReader pr = JsonObjectReader.of(params, paramsAt, "the params of " + DETACH);
                pr.allowOnly(DETACH, Set.of("name"));
                steps.add(new Detach(at, pr.requiredString("name", DETACH + " requires the controller name")));
            }
            case NO_OP -> steps.add(new NoOp(at, method));
            case HOTPLUG -> {
                JsonNode enable = params == null ? null : params.get("enable");
                if (enable != null && enable.isBoolean() && enable.booleanValue()) {
                    unsupported(at, method, "with \"enable\": true turns on PCI hotplug, which would attach devices jvirtio"
                            + " cannot (jvirtio attaches only the controllers its config names)", steps);
                } else {
                    steps.add(new NoOp(at, method));
                }
            }
            case CREATES_BDEVS -> unsupported(at, method, "creates bdevs jvirtio cannot make (jvirtio attaches virtio"
                    + " controllers only, with " + ControllerParams.METHOD + ")", steps);
            case UNSUPPORTED_SETTING -> unsupported(at, method, "configures what jvirtio does not have", steps);
        }
    }

    private static JsonNode missing() {
        return MissingNode.getInstance();
    }

    private void unsupported(JsonPath at, String method, String reason, List<Step> steps) {
        if (options.skipUnsupportedMethods()) {
            steps.add(new Skip(at, method, reason));
            return;
        }
        throw new ConfigException(at.field("method"), quote(method) + " " + reason + "; remove the entry, or load with"
                + " LoadOptions.skippingUnsupportedMethods() to skip such entries with a warning");
    }

    /** Checks names as the steps would leave them, so a clash is refused before anything attaches. */
    private void checkNames(List<Step> steps) {
        Map<String, JsonPath> attachedHere = new LinkedHashMap<>();
        Set<String> detachedExisting = new HashSet<>();
        for (Step s : steps) {
            if (s instanceof Attach a) {
                String name = a.params.name();
                JsonPath nameAt = a.path.field("params").field("name");
                JsonPath earlier = attachedHere.get(name);
                if (earlier != null) {
                    throw new ConfigException(nameAt, quote(name) + " is already attached by " + earlier
                            + " of this config; detach it first or choose another name");
                }
                Optional<String> holder = registry.holderController(name);
                if (holder.isPresent() && !detachedExisting.contains(holder.get())) {
                    registry.checkNameFree(name, nameAt);
                }
                attachedHere.put(name, a.path);
            } else if (s instanceof Detach d) {
                if (attachedHere.remove(d.name) == null) {
                    boolean existing = registry.controllerNames().contains(d.name) && !detachedExisting.contains(d.name);
                    if (!existing) {
                        List<String> now = new ArrayList<>(registry.controllerNames());
                        now.removeAll(detachedExisting);
                        now.addAll(attachedHere.keySet());
                        throw new NoSuchDeviceException(d.path.field("params").field("name"), "no controller named "
                                + quote(d.name) + " is attached at this point of the config (attached: " + BdevRegistry.namesOrNone(now) + ")");
                    }
                    detachedExisting.add(d.name);
                }
            }
        }
    }

    // ------------------------------------------------------------------ phase 2: run, undo on failure

    private LoadResult execute(List<Step> steps) {
        List<String> attachedHere = new ArrayList<>();
        List<String> detached = new ArrayList<>();
        List<LoadResult.Skipped> skipped = new ArrayList<>();
        try {
            for (Step s : steps) {
                switch (s) {
                    case Attach a -> {
                        registry.attach(a.params, a.path.field("params"));
                        attachedHere.add(a.params.name());
                    }
                    case Detach d -> {
                        registry.detach(d.name, d.path.field("params").field("name"));
                        if (!attachedHere.remove(d.name)) {
                            detached.add(d.name);
                        }
                    }
                    case NoOp n -> LOG.debug("{}: {} accepted; it changes nothing for virtio bdevs", n.path, n.method);
                    case Skip k -> {
                        LOG.warn("{}: {} skipped: it {}", k.path, k.method, k.reason);
                        skipped.add(new LoadResult.Skipped(k.path.toString(), k.method, k.reason));
                    }
                }
            }
        } catch (RuntimeException e) {
            String note = rollback(attachedHere, detached, e);
            throw e instanceof ConfigException ce && !note.isEmpty() ? ce.withNote(note) : e;
        }
        List<String> bdevs = new ArrayList<>();
        for (String c : attachedHere) {
            registry.findController(c).ifPresent(ctrl -> ctrl.bdevs().forEach(b -> bdevs.add(b.name())));
        }
        LOG.info("config loaded: attached {}{}{}", attachedHere.isEmpty() ? "nothing" : attachedHere,
                detached.isEmpty() ? "" : ", detached " + detached, skipped.isEmpty() ? "" : ", skipped " + skipped.size() + " entries");
        return new LoadResult(attachedHere, bdevs, detached, skipped);
    }

    /** Detaches what this load attached, newest first. @return a note for the error message */
    private String rollback(List<String> attachedHere, List<String> detached, RuntimeException failure) {
        List<String> undo = new ArrayList<>(attachedHere);
        Collections.reverse(undo);
        for (String name : undo) {
            try {
                registry.detach(name, JsonPath.root());
            } catch (RuntimeException e) {
                failure.addSuppressed(e);
            }
        }
        StringBuilder note = new StringBuilder();
        if (!undo.isEmpty()) {
            note.append(" (load undone: detached ").append(String.join(", ", undo)).append(" again)");
            LOG.warn("config load failed; detached {} again", undo);
        }
        if (!detached.isEmpty()) {
            note.append(" (controllers this load detached before the failure stay detached: ").append(String.join(", ", detached)).append(')');
        }
        return note.toString();
    }
}
