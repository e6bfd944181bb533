package io.jvirtio.backend;

import io.jvirtio.backend.blk.BlkDeviceType;

import java.util.Collection;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;

/** The registry of {@link DeviceType}s the command line knows: built-ins, service-loaded ones, registered ones. */
public final class DeviceTypes {
    private static final Map<String, DeviceType> TYPES = new TreeMap<>();

    static {
        register(new BlkDeviceType());
        register(new io.jvirtio.backend.scsi.ScsiDeviceType());
        for (DeviceType t : ServiceLoader.load(DeviceType.class)) {
            register(t);
        }
    }

    private DeviceTypes() {
    }

    /** Adds (or replaces) a device type. */
    public static synchronized void register(DeviceType type) {
        TYPES.put(type.name(), type);
    }

    /** @return the type named {@code name}, or null */
    public static synchronized DeviceType find(String name) {
        return TYPES.get(name);
    }

    /** @return every known type, by name */
    public static synchronized Collection<DeviceType> all() {
        return java.util.List.copyOf(TYPES.values());
    }
}
