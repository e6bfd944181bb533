package io.jvirtio.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.IoType;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code bdev_get_bdevs} output, field by field and in order as SPDK 24.01 writes it for virtio
 * bdevs: {@code name}, {@code aliases} [uuid], {@code product_name}, {@code block_size},
 * {@code num_blocks}, {@code uuid}, {@code assigned_rate_limits} (all 0: jvirtio has no QoS),
 * {@code claimed} false, {@code zoned} false, {@code supported_io_types} (every key SPDK lists, true
 * for what the bdev executes) and {@code driver_specific} (the bdev's dump_json_info, e.g.
 * {@code {"virtio": {"vq_count", "vq_size", "type", "socket"}}}).
 */
public final class BdevJson {
    /** The {@code supported_io_types} keys SPDK 24.01 writes, in its order. */
    public static final List<String> SPDK_IO_TYPES = List.of("read", "write", "unmap", "write_zeroes", "flush", "reset",
            "compare", "compare_and_write", "abort", "nvme_admin", "nvme_io");
    /** The {@code assigned_rate_limits} keys, in SPDK's order. */
    public static final List<String> RATE_LIMITS = List.of("rw_ios_per_sec", "rw_mbytes_per_sec", "r_mbytes_per_sec", "w_mbytes_per_sec");

    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private BdevJson() {
    }

    /** @return {@code bdev_get_bdevs} for every bdev of {@code registry}, in attach order */
    public static ArrayNode bdevGetBdevs(BdevRegistry registry) {
        ArrayNode out = F.arrayNode();
        for (AttachedBdev b : registry.attachedBdevs()) {
            out.add(bdevInfo(b));
        }
        return out;
    }

    /**
     * @param nameOrAlias a bdev name or uuid
     * @return {@code bdev_get_bdevs} with {@code name}: an array of that one bdev
     * @throws NoSuchDeviceException naming it and the attached bdevs
     */
    public static ArrayNode bdevGetBdevs(BdevRegistry registry, String nameOrAlias) {
        return F.arrayNode().add(bdevInfo(registry.attachedBdev(nameOrAlias)));
    }

    /**
     * @return {@code bdev_virtio_scsi_get_devices}: each attached scsi controller as
     *         {@code {"name": ..., "virtio": {"vq_count" (fixed queues included), "vq_size", "type", "socket"}}}
     */
    public static ArrayNode virtioScsiGetDevices(BdevRegistry registry) {
        ArrayNode out = F.arrayNode();
        for (Controller c : registry.controllers()) {
            if ("scsi".equals(c.devType())) {
                ObjectNode o = out.addObject();
                o.put("name", c.name());
                o.set("virtio", SpdkJson.mapper().valueToTree(c.virtioInfo()));
            }
        }
        return out;
    }

    /** @return one bdev's {@code bdev_get_bdevs} object */
    public static ObjectNode bdevInfo(AttachedBdev attached) {
        Bdev bdev = attached.bdev();
        ObjectNode o = F.objectNode();
        o.put("name", bdev.name());
        ArrayNode aliases = o.putArray("aliases");
        attached.aliases().forEach(aliases::add);
        o.put("product_name", bdev.productName());
        o.put("block_size", bdev.blockSize());
        o.put("num_blocks", bdev.blockCount());
        o.put("uuid", attached.uuid().toString());
        ObjectNode limits = o.putObject("assigned_rate_limits");
        RATE_LIMITS.forEach(k -> limits.put(k, 0));
        o.put("claimed", false);
        o.put("zoned", false);
        o.set("supported_io_types", supportedIoTypes(bdev.supportedIoTypes()));
        o.set("driver_specific", driverSpecific(bdev));
        return o;
    }

    /** @return every SPDK I/O type key, true for those in {@code types}; types SPDK does not list follow */
    public static ObjectNode supportedIoTypes(Set<IoType> types) {
        Set<String> keys = new LinkedHashSet<>(SPDK_IO_TYPES);
        for (IoType t : IoType.values()) {
            keys.add(t.spdkName());
        }
        ObjectNode o = F.objectNode();
        for (String k : keys) {
            o.put(k, types.stream().anyMatch(t -> t.spdkName().equals(k)));
        }
        return o;
    }

    /** @return the bdev's {@code driver_specific} object (its {@link Bdev#driverSpecificInfo()} as JSON) */
    public static ObjectNode driverSpecific(Bdev bdev) {
        Map<String, Object> info = bdev.driverSpecificInfo();
        JsonNode n = SpdkJson.mapper().valueToTree(info == null ? Map.of() : info);
        return (ObjectNode) n;
    }
}
