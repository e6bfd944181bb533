package io.jvirtio.config;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Path;

/**
 * {@code save_config} / {@code write_json_config} for the bdev subsystem, in SPDK's shape: one
 * {@code bdev_virtio_attach_controller} per attached controller (attach order; params name,
 * dev_type, trtype, traddr, and for trtype user vq_count = request queues and vq_size), then
 * {@code bdev_wait_for_examine}, which SPDK always writes last. SPDK's other generic entries
 * ({@code bdev_set_options}, {@code bdev_nvme_set_options}, ...) are not written: their values would
 * be SPDK's defaults, not settings jvirtio has, and SPDK uses those defaults when they are absent.
 * Only the bdev subsystem is written: jvirtio has no other.
 */
public final class SaveConfig {
    /** The subsystem name. */
    public static final String SUBSYSTEM = "bdev";
    /** The entry SPDK ends the bdev subsystem's config with. */
    public static final String WAIT_FOR_EXAMINE = "bdev_wait_for_examine";

    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private SaveConfig() {
    }

    /** @return {@code framework_get_config} of the bdev subsystem: the config entries */
    public static ArrayNode bdevConfig(BdevRegistry registry) {
        ArrayNode config = F.arrayNode();
        for (Controller c : registry.controllers()) {
            ObjectNode entry = config.addObject();
            entry.put("method", ControllerParams.METHOD);
            entry.set("params", c.configParams().toJson());
        }
        config.addObject().put("method", WAIT_FOR_EXAMINE);
        return config;
    }

    /** @return {@code save_subsystem_config} of the bdev subsystem: {@code {"subsystem": "bdev", "config": [...]}} */
    public static ObjectNode subsystemConfig(BdevRegistry registry) {
        ObjectNode o = F.objectNode();
        o.put("subsystem", SUBSYSTEM);
        o.set("config", bdevConfig(registry));
        return o;
    }

    /** @return {@code save_config}: {@code {"subsystems": [{"subsystem": "bdev", "config": [...]}]}} */
    public static ObjectNode saveConfig(BdevRegistry registry) {
        ObjectNode o = F.objectNode();
        o.putArray("subsystems").add(subsystemConfig(registry));
        return o;
    }

    /** Writes {@link #saveConfig} to {@code file} formatted as SPDK writes it. */
    public static void write(BdevRegistry registry, Path file) {
        SpdkJson.write(saveConfig(registry), file);
    }
}
