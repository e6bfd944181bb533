package io.jvirtio.core;

import java.lang.reflect.RecordComponent;
import java.util.Objects;

/**
 * The check every driver makes of a target that came back after a reconnect: its config, read
 * again, must equal the one read at attach. A difference is named field by field, so the error says
 * what changed ("its config has capacitySectors 65536 (was 131072)"). Error path only: reflects.
 */
public final class SameConfig {
    private SameConfig() {
    }

    /**
     * @param atAttach the driver's config record as read at attach
     * @param now      the same record read from the target that came back
     * @throws DeviceException naming every field that differs
     */
    public static <R extends Record> void require(R atAttach, R now) {
        if (now.equals(atAttach)) {
            return;
        }
        StringBuilder diff = new StringBuilder();
        for (RecordComponent c : atAttach.getClass().getRecordComponents()) {
            try {
                Object was = c.getAccessor().invoke(atAttach);
                Object is = c.getAccessor().invoke(now);
                if (!Objects.equals(was, is)) {
                    diff.append(diff.isEmpty() ? "" : ", ").append(c.getName()).append(' ').append(is).append(" (was ").append(was).append(')');
                }
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot compare " + atAttach.getClass().getSimpleName() + "." + c.getName(), e);
            }
        }
        throw new DeviceException("its config has " + diff);
    }
}
