package io.jvirtio.config;

import io.jvirtio.core.DriverAttach;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.vhostuser.VhostUserAttach;
import io.jvirtio.core.vhostuser.VhostUserOptions;

import java.util.Objects;

import static io.jvirtio.config.JsonObjectReader.quote;

/** {@code trtype user}: connect to the vhost-user socket {@code traddr} ({@link VhostUserAttach}). */
record VhostUserAttachStep(VhostUserOptions options) implements TransportAttachStep {
    VhostUserAttachStep {
        Objects.requireNonNull(options, "options");
    }

    @Override
    public <T> T attach(ControllerParams params, long memoryBytes, HugePagePolicy hugePages, DriverAttach<T> driver) {
        return VhostUserAttach.attach(params.name(), params.socketPath(), memoryBytes, hugePages, options,
                e -> new ConfigException(JsonPath.of("traddr"), quote(params.traddr()) + ": cannot attach " + params.name()
                        + ": " + e.getMessage(), e),
                driver);
    }
}
