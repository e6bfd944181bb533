package io.jvirtio.config;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.Set;

/**
 * The {@link ControllerType}s a {@link BdevRegistry} can attach, by {@code dev_type}. Immutable.
 * {@link #discover()} finds those registered with {@link ServiceLoader} (this module registers
 * {@code blk} and {@code scsi}).
 */
public final class ControllerTypes {
    /** The dev_types SPDK's {@code bdev_virtio_attach_controller} knows. */
    public static final List<String> SPDK_DEV_TYPES = List.of("blk", "scsi");

    private final Map<String, ControllerType> types;

    private ControllerTypes(Map<String, ControllerType> types) {
        this.types = Collections.unmodifiableMap(types);
    }

    /** @return the types registered with {@link ServiceLoader} on this class's class loader */
    public static ControllerTypes discover() {
        Map<String, ControllerType> m = new LinkedHashMap<>();
        for (ControllerType t : ServiceLoader.load(ControllerType.class, ControllerTypes.class.getClassLoader())) {
            m.putIfAbsent(t.devType(), t);
        }
        return new ControllerTypes(m);
    }

    /**
     * @param types the types, each with a distinct {@code dev_type}
     * @return exactly these
     * @throws IllegalArgumentException on two types with one {@code dev_type}
     */
    public static ControllerTypes of(ControllerType... types) {
        Map<String, ControllerType> m = new LinkedHashMap<>();
        for (ControllerType t : types) {
            if (m.putIfAbsent(t.devType(), t) != null) {
                throw new IllegalArgumentException("two controller types for dev_type " + t.devType());
            }
        }
        return new ControllerTypes(m);
    }

    /** @return these types with {@code type} added, replacing one of the same {@code dev_type} */
    public ControllerTypes with(ControllerType type) {
        Map<String, ControllerType> m = new LinkedHashMap<>(types);
        m.put(type.devType(), type);
        return new ControllerTypes(m);
    }

    /** @return the type for {@code devType}, or empty */
    public Optional<ControllerType> find(String devType) {
        return Optional.ofNullable(types.get(devType));
    }

    /**
     * @param devType a {@code dev_type} value
     * @return its type
     * @throws ConfigException at {@code dev_type}: "dev_type scsi is not available" for a dev_type SPDK
     *                         knows but no type is registered for, "not a dev_type" otherwise
     */
    public ControllerType require(String devType) {
        ControllerType t = types.get(devType);
        if (t != null) {
            return t;
        }
        JsonPath at = JsonPath.of("dev_type");
        String available = types.isEmpty() ? "none" : String.join(", ", types.keySet());
        if (SPDK_DEV_TYPES.contains(devType)) {
            throw new ConfigException(at, "dev_type " + devType + " is not available in this jvirtio (no controller type for it"
                    + " is registered; available: " + available + ")");
        }
        throw new ConfigException(at, JsonObjectReader.quote(devType) + " is not a dev_type; use \"blk\" or \"scsi\""
                + (SPDK_DEV_TYPES.stream().anyMatch(d -> d.equalsIgnoreCase(devType)) ? " (dev_type is case-sensitive, as in SPDK)" : "")
                + " (available here: " + available + ")");
    }

    /** @return the registered dev_types */
    public Set<String> devTypes() {
        return types.keySet();
    }

    @Override
    public String toString() {
        return "ControllerTypes" + types.keySet();
    }
}
