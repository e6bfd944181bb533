package io.jvirtio.config;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What jvirtio does with each method SPDK 24.01 can have in its bdev subsystem config (and the
 * bdev RPCs people put in hand-written configs). Package-private: the loader's table.
 */
final class BdevMethods {
    /** How a method is treated. */
    enum Kind {
        /** {@code bdev_virtio_attach_controller} */
        ATTACH,
        /** {@code bdev_virtio_detach_controller} */
        DETACH,
        /** changes nothing for virtio bdevs: accepted, logged at debug */
        NO_OP,
        /** a no-op while {@code params.enable} is false; with {@code enable: true} it would attach devices: {@link #CREATES_BDEVS} */
        HOTPLUG,
        /** would create bdevs jvirtio cannot make: an error, or skipped with a warning when the load option says so */
        CREATES_BDEVS,
        /** would configure something jvirtio does not have (QoS, a module's own bdevs): as {@link #CREATES_BDEVS} */
        UNSUPPORTED_SETTING
    }

    private static final Map<String, Kind> KINDS = new HashMap<>();

    private static void put(Kind kind, String... methods) {
        for (String m : methods) {
            KINDS.put(m, kind);
        }
    }

    static {
        put(Kind.ATTACH, ControllerParams.METHOD);
        put(Kind.DETACH, "bdev_virtio_detach_controller");
        put(Kind.NO_OP,
                "bdev_set_options",             // bdev_io pool and cache sizes: jvirtio pools per channel
                "bdev_wait_for_examine",        // jvirtio's attach is synchronous: nothing to wait for
                "bdev_examine",                 // no examine modules (gpt, lvol) in jvirtio
                "bdev_raid_set_options",
                "bdev_nvme_set_options",
                "bdev_iscsi_set_options");
        put(Kind.HOTPLUG, "bdev_nvme_set_hotplug", "bdev_virtio_blk_set_hotplug");
        put(Kind.CREATES_BDEVS,
                "bdev_malloc_create", "bdev_null_create", "bdev_aio_create", "bdev_uring_create", "bdev_xnvme_create",
                "bdev_nvme_attach_controller", "bdev_nvme_start_discovery", "bdev_nvme_start_mdns_discovery",
                "bdev_iscsi_create", "bdev_rbd_register_cluster", "bdev_rbd_create", "bdev_daos_create", "bdev_pmem_create",
                "bdev_raid_create", "bdev_split_create", "bdev_passthru_create", "bdev_delay_create", "bdev_error_create",
                "bdev_crypto_create", "bdev_compress_create", "bdev_ocf_create", "bdev_zone_block_create", "bdev_ftl_create",
                "bdev_opal_create", "bdev_lvol_create_lvstore", "bdev_lvol_create", "bdev_lvol_snapshot", "bdev_lvol_clone");
        put(Kind.UNSUPPORTED_SETTING,
                "bdev_set_qos_limit", "bdev_set_qd_sampling_period", "bdev_nvme_add_error_injection",
                "bdev_nvme_set_multipath_policy", "bdev_nvme_set_preferred_path", "bdev_nvme_cuse_register",
                "bdev_ocf_set_cache_mode", "bdev_ocf_set_seqcutoff", "bdev_error_inject_error", "bdev_enable_histogram");
    }

    private BdevMethods() {
    }

    /** @return how {@code method} is treated, or empty for a method jvirtio does not know */
    static Optional<Kind> kind(String method) {
        return Optional.ofNullable(KINDS.get(method));
    }

    /** @return the known method closest to {@code method} (a likely typo), or empty */
    static Optional<String> nearest(String method) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String m : KINDS.keySet()) {
            int d = distance(method, m);
            if (d < bestDistance || (d == bestDistance && best != null && m.compareTo(best) < 0)) {
                best = m;
                bestDistance = d;
            }
        }
        return best != null && bestDistance <= Math.max(2, method.length() / 8) ? Optional.of(best) : Optional.empty();
    }

    /** @return the known methods (for messages and tests) */
    static List<String> known() {
        return KINDS.keySet().stream().sorted().toList();
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
