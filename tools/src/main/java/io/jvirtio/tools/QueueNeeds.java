package io.jvirtio.tools;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.core.VirtioDevice;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Counts the request queues a perf run needs per controller before anything runs: every job
 * (one per bdev per core) takes a request queue of its controller, and the LUNs of a virtio-scsi
 * controller share the controller's queues. A controller with too few is refused at once with a
 * message naming it, its queues and its LUNs, instead of running the whole {@code -t} and then
 * failing. (The per-core scheduler, which drives every LUN of a core on one thread and so one
 * queue, will count cores instead of jobs here.)
 */
final class QueueNeeds {
    private QueueNeeds() {
    }

    /** @throws UserError naming the first controller that cannot give every job a request queue */
    static void check(PerfBdevs bdevs, PerfSettings s) {
        Map<String, List<Bdev>> byController = new LinkedHashMap<>();
        for (Bdev b : bdevs.list()) {
            byController.computeIfAbsent(PerfBdevs.controllerName(b), k -> new ArrayList<>()).add(b);
        }
        for (Map.Entry<String, List<Bdev>> e : byController.entrySet()) {
            List<Bdev> luns = e.getValue();
            Bdev first = luns.getFirst();
            int have = first.maxChannels();
            int need = luns.size() * s.cores();
            if (need <= have) {
                continue;
            }
            String coreWords = s.cores() + (s.cores() == 1 ? " core" : " cores");
            if (luns.size() == 1 && luns.getFirst().name().equals(e.getKey())) {
                throw new UserError("--cores " + s.cores() + ": bdev " + first.name() + " has only " + have + " request queue(s); "
                        + moreQueuesHint(PerfBdevs.deviceOf(first), need));
            }
            throw new UserError("controller " + e.getKey() + " has " + have + " request queue(s) but this run needs " + need
                    + ": one per job, " + coreWords + " on each of its " + luns.size() + " LUNs ("
                    + String.join(", ", luns.stream().map(Bdev::name).toList()) + "); "
                    + moreQueuesHint(PerfBdevs.deviceOf(first), need) + ", or measure fewer LUNs at a time with -b BDEV");
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
