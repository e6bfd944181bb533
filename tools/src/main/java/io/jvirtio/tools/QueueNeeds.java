package io.jvirtio.tools;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.core.VirtioDevice;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Counts the request queues a perf run needs per controller before anything runs. Each core is one
 * thread, and a thread's channels to the LUNs of one virtio-scsi controller share one request queue
 * of it (SPDK's per-thread queue), so a controller needs one queue per core its bdevs are placed on
 * ({@link CoreLayout}), however many of its LUNs each core runs. A controller with too few is
 * refused at once with a message naming it, its queues, its LUNs and their cores, instead of running
 * the whole {@code -t} and then failing.
 */
final class QueueNeeds {
    private QueueNeeds() {
    }

    /** @throws UserError naming the first controller that cannot give each of its cores a request queue */
    static void check(List<Bdev> bdevs, CoreLayout layout) {
        Map<String, List<Bdev>> luns = new LinkedHashMap<>();
        for (Bdev b : bdevs) {
            luns.computeIfAbsent(PerfBdevs.controllerName(b), k -> new ArrayList<>()).add(b);
        }
        for (Map.Entry<String, Set<Integer>> e : layout.coresByController().entrySet()) {
            List<Bdev> its = luns.get(e.getKey());
            Bdev first = its.getFirst();
            int have = first.maxChannels();
            int need = e.getValue().size();
            if (need <= have) {
                continue;
            }
            String cores = "core" + (need == 1 ? " " : "s ") + String.join(",", e.getValue().stream().map(String::valueOf).toList());
            if (its.size() == 1 && first.name().equals(e.getKey())) {
                throw new UserError("bdev " + first.name() + " runs on " + need + " cores (" + cores + ") but has only " + have
                        + " request queue(s); " + moreQueuesHint(PerfBdevs.deviceOf(first), need));
            }
            throw new UserError("controller " + e.getKey() + " has " + have + " request queue(s) but this run needs " + need
                    + ": one per core its LUNs run on (" + cores + "; LUNs " + String.join(", ", its.stream().map(Bdev::name).toList())
                    + "); " + moreQueuesHint(PerfBdevs.deviceOf(first), need) + ", use fewer cores (-m), or measure fewer LUNs with -b BDEV");
        }
    }

    /** How to get more request queues: vq_count for vhost-user, the device itself for PCI (SPDK takes all its queues). */
    static String moreQueuesHint(VirtioDevice device, int needed) {
        Object trtype = device == null ? null : device.backend().writeJsonConfig().get("trtype");
        if ("pci".equals(trtype)) {
            return "the PCI device has no more (trtype pci uses all of them); give it " + needed
                    + " or more (QEMU: num-queues=" + needed + ")";
        }
        return "attach it with vq_count >= " + needed;
    }
}
