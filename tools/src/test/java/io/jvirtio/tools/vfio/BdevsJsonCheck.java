package io.jvirtio.tools.vfio;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static io.jvirtio.tools.vfio.GuestCheckException.check;

/**
 * Checks {@code jvirtio bdevs} output ({@code bdev_get_bdevs}) entry by entry against SPDK's shape
 * ({@code json-config/src/test/resources/spdk-json/pci/bdev_get_bdevs.json}): the keys in SPDK's
 * order, the alias that is the uuid, product name, block size and count, the supported I/O types,
 * and {@code driver_specific} exactly {@code {"virtio": {"vq_count", "vq_size", <transport's>}}}
 * in that order. Guest and host side.
 */
final class BdevsJsonCheck {
    /** SPDK's keys of one {@code bdev_get_bdevs} entry, in its order. */
    static final List<String> SPDK_KEYS = List.of("name", "aliases", "product_name", "block_size", "num_blocks", "uuid",
            "assigned_rate_limits", "claimed", "zoned", "supported_io_types", "driver_specific");
    /** SPDK's I/O type keys, in its order. */
    static final List<String> SPDK_IO_TYPES = List.of("read", "write", "unmap", "write_zeroes", "flush", "reset", "compare",
            "compare_and_write", "abort", "nvme_admin", "nvme_io");
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * One bdev as {@code bdev_get_bdevs} must show it.
     *
     * @param transport the transport's {@code driver_specific.virtio} fields after {@code vq_count} and {@code vq_size}, in order
     * @param ioTypes   the I/O types that must be {@code true}; every other one must be {@code false}
     */
    record Expected(String name, String productName, int blockSize, long numBlocks, int vqCount, int vqSize,
                    Map<String, String> transport, Set<String> ioTypes) {
        Expected {
            transport = new LinkedHashMap<>(transport);
            ioTypes = Set.copyOf(ioTypes);
        }
    }

    private BdevsJsonCheck() {
    }

    /**
     * Checks that {@code output} lists exactly these bdevs, in this order, each in SPDK's shape.
     *
     * @throws GuestCheckException naming the bdev and the field that differs
     */
    static void verify(String output, List<Expected> expected) throws IOException {
        JsonNode bdevs = JSON.readTree(output);
        check(bdevs.isArray(), "jvirtio bdevs printed no JSON array: " + output);
        List<String> names = new ArrayList<>();
        bdevs.forEach(b -> names.add(b.path("name").asText()));
        check(names.equals(expected.stream().map(Expected::name).toList()), "jvirtio bdevs lists " + names + ", expected "
                + expected.stream().map(Expected::name).toList());
        for (int i = 0; i < expected.size(); i++) {
            entry(bdevs.get(i), expected.get(i));
        }
    }

    private static void entry(JsonNode b, Expected e) throws IOException {
        String n = e.name() + ": ";
        check(fieldNames(b).equals(SPDK_KEYS), n + "keys " + fieldNames(b) + ", expected SPDK's " + SPDK_KEYS);
        String uuid = b.path("uuid").asText();
        check(uuid.matches("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), n + "uuid " + b.path("uuid"));
        check(b.path("aliases").size() == 1 && uuid.equals(b.path("aliases").get(0).asText()), n + "aliases " + b.path("aliases")
                + ", expected [" + uuid + "]");
        check(e.productName().equals(b.path("product_name").asText()), n + "product_name " + b.path("product_name") + ", expected "
                + e.productName());
        check(b.path("block_size").asInt() == e.blockSize(), n + "block_size " + b.path("block_size") + ", expected " + e.blockSize());
        check(b.path("num_blocks").asLong() == e.numBlocks(), n + "num_blocks " + b.path("num_blocks") + ", expected " + e.numBlocks());
        check(!b.path("claimed").asBoolean(true) && !b.path("zoned").asBoolean(true), n + "claimed " + b.path("claimed") + ", zoned "
                + b.path("zoned") + ", expected false, false");
        JsonNode io = b.path("supported_io_types");
        check(fieldNames(io).equals(SPDK_IO_TYPES), n + "supported_io_types keys " + fieldNames(io) + ", expected " + SPDK_IO_TYPES);
        Set<String> on = new TreeSet<>();
        io.fields().forEachRemaining(f -> {
            if (f.getValue().asBoolean()) {
                on.add(f.getKey());
            }
        });
        check(on.equals(new TreeSet<>(e.ioTypes())), n + "supported I/O types " + on + ", expected " + new TreeSet<>(e.ioTypes()));
        Map<String, Object> virtio = new LinkedHashMap<>();
        virtio.put("vq_count", e.vqCount());
        virtio.put("vq_size", e.vqSize());
        virtio.putAll(e.transport());
        String want = JSON.writeValueAsString(Map.of("virtio", virtio));
        String got = JSON.writeValueAsString(b.path("driver_specific"));
        check(want.equals(got), n + "driver_specific " + got + ", expected " + want);
    }

    private static List<String> fieldNames(JsonNode node) {
        List<String> out = new ArrayList<>();
        node.fieldNames().forEachRemaining(out::add);
        return out;
    }
}
