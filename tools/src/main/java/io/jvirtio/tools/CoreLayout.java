package io.jvirtio.tools;

import io.jvirtio.bdev.Bdev;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.TreeSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where {@code jvirtio perf} places its jobs, as bdevperf does: by default one job per bdev, the
 * bdevs dealt round-robin over the cores of the mask in their order (bdev 0 on the first core, bdev 1
 * on the second, ...); with {@code -C} (bdevperf's multithread mode) one job on every core for every
 * bdev. Each core is one thread driving all its jobs ({@link io.jvirtio.tools.perf.JobRunner}), so a
 * controller needs one request queue per core its LUNs are placed on.
 *
 * @param placements the jobs, in the order their results are reported
 */
record CoreLayout(List<Placement> placements) {
    /**
     * One job's place.
     *
     * @param bdev     the bdev it measures
     * @param core     the core (a bit of the mask) whose thread drives it
     * @param index    its number among the jobs of its bdev, 0-based
     * @param ofBdev   the jobs on its bdev
     */
    record Placement(Bdev bdev, int core, int index, int ofBdev) {
    }

    /**
     * @param bdevs     the bdevs, in order
     * @param cores     the cores of the mask, in order
     * @param everyCore {@code -C}: every bdev on every core
     */
    static CoreLayout of(List<Bdev> bdevs, List<Integer> cores, boolean everyCore) {
        List<Placement> ps = new ArrayList<>();
        for (int b = 0; b < bdevs.size(); b++) {
            if (everyCore) {
                for (int c = 0; c < cores.size(); c++) {
                    ps.add(new Placement(bdevs.get(b), cores.get(c), c, cores.size()));
                }
            } else {
                ps.add(new Placement(bdevs.get(b), cores.get(b % cores.size()), 0, 1));
            }
        }
        return new CoreLayout(List.copyOf(ps));
    }

    /** @return per controller (in order) the cores its bdevs' jobs run on, ascending */
    Map<String, Set<Integer>> coresByController() {
        Map<String, Set<Integer>> m = new LinkedHashMap<>();
        for (Placement p : placements) {
            m.computeIfAbsent(PerfBdevs.controllerName(p.bdev()), k -> new TreeSet<>()).add(p.core());
        }
        return m;
    }

    /** @return per job its core, in job order */
    List<Integer> coreOfEachJob() {
        return placements.stream().map(Placement::core).toList();
    }

    /** @return {@code core 0: VirtioBlk0, VirtioScsi0t0l1; core 1: VirtioScsi0t0} */
    String describe() {
        Map<Integer, List<String>> byCore = new LinkedHashMap<>();
        for (Placement p : placements) {
            byCore.computeIfAbsent(p.core(), k -> new ArrayList<>()).add(p.bdev().name());
        }
        List<String> parts = new ArrayList<>();
        byCore.forEach((c, names) -> parts.add("core " + c + ": " + String.join(", ", names)));
        return String.join("; ", parts);
    }
}
