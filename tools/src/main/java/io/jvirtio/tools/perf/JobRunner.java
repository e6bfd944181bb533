package io.jvirtio.tools.perf;

import io.jvirtio.backend.ring.CpuAffinity;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Runs {@link PerfJob}s as SPDK's reactors do: one thread per core drives every job placed on that
 * core, polling their channels round-robin without sleeping, so all the LUNs of a virtio-scsi
 * controller placed on one core share that core's one request queue of the controller. A job that
 * fails (its channel cannot open, the device is gone) never hides the others: every job's result or
 * failure comes back. The CPU time of a core thread over the measured phase is shared out among its
 * jobs by their share of the completions (equally when none completed). While they run, a sampler
 * thread reports one live line about all of them about once a second.
 */
public final class JobRunner {
    private static final long SAMPLE_NANOS = TimeUnit.SECONDS.toNanos(1);

    private JobRunner() {
    }

    /**
     * What every job did: a result, or the failure that ended it.
     *
     * @param jobs     the jobs, in the order given
     * @param results  per job its result, or null when it failed
     * @param failures per job the failure, or null
     */
    public record Outcome(List<PerfJob> jobs, List<PerfResult> results, List<RuntimeException> failures) {
        /** @return whether any job failed */
        public boolean anyFailed() {
            return failures.stream().anyMatch(f -> f != null);
        }

        /** @return per bdev (in order) the merged result of its jobs that finished; bdevs whose jobs all failed are left out */
        public List<PerfResult> mergedByBdev() {
            Map<String, List<PerfResult>> byBdev = new LinkedHashMap<>();
            for (int i = 0; i < jobs.size(); i++) {
                List<PerfResult> rs = byBdev.computeIfAbsent(jobs.get(i).bdev().name(), k -> new ArrayList<>());
                if (results.get(i) != null) {
                    rs.add(results.get(i));
                }
            }
            List<PerfResult> merged = new ArrayList<>();
            for (List<PerfResult> rs : byBdev.values()) {
                if (!rs.isEmpty()) {
                    merged.add(PerfResult.merge(rs));
                }
            }
            return merged;
        }

        /** @return one line per failed job: {@code BDEV: message} */
        public List<String> failureLines() {
            List<String> lines = new ArrayList<>();
            for (int i = 0; i < jobs.size(); i++) {
                if (failures.get(i) != null) {
                    lines.add(jobs.get(i).bdev().name() + ": " + failures.get(i).getMessage());
                }
            }
            return lines;
        }
    }

    /**
     * Runs every job on a core of its own and waits for all of them.
     *
     * @param jobs     the jobs; each gets a thread of its own
     * @param events   lines that must stay (a job's first I/O error), or null
     * @param progress the live line about all jobs, about once a second, or null
     */
    public static Outcome run(List<PerfJob> jobs, Consumer<String> events, Consumer<String> progress) throws InterruptedException {
        List<Integer> cores = new ArrayList<>();
        for (int i = 0; i < jobs.size(); i++) {
            cores.add(i);
        }
        return run(jobs, cores, events, progress);
    }

    /**
     * Runs the jobs, one thread per distinct core, and waits for all of them.
     *
     * @param jobs     the jobs
     * @param coreOf   per job the core (any int naming it) whose thread drives it
     * @param events   lines that must stay (a job's first I/O error), or null
     * @param progress the live line about all jobs, about once a second, or null
     */
    public static Outcome run(List<PerfJob> jobs, List<Integer> coreOf, Consumer<String> events, Consumer<String> progress)
            throws InterruptedException {
        return run(jobs, coreOf, false, events, progress);
    }

    /**
     * As {@link #run(List, List, Consumer, Consumer)}; with {@code pin}, each core's thread is pinned to the
     * CPU of that number (sched_setaffinity, as SPDK pins its reactors) before it opens its channels.
     *
     * @throws IllegalArgumentException with pin, if a core is not a CPU this process may run on
     */
    public static Outcome run(List<PerfJob> jobs, List<Integer> coreOf, boolean pin, Consumer<String> events, Consumer<String> progress)
            throws InterruptedException {
        if (pin) {
            java.util.BitSet allowed = CpuAffinity.allowedCpus();
            for (int core : coreOf) {
                if (!allowed.get(core)) {
                    throw new IllegalArgumentException("core " + core + " is not one of the CPUs this process may run on " + allowed);
                }
            }
        }
        if (coreOf.size() != jobs.size()) {
            throw new IllegalArgumentException(jobs.size() + " jobs but " + coreOf.size() + " core placements");
        }
        int n = jobs.size();
        PerfResult[] results = new PerfResult[n];
        RuntimeException[] failures = new RuntimeException[n];
        Map<Integer, List<Integer>> byCore = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            byCore.computeIfAbsent(coreOf.get(i), k -> new ArrayList<>()).add(i);
        }
        List<Thread> threads = new ArrayList<>();
        long t0 = System.nanoTime() + START_DELAY_NANOS;
        for (Map.Entry<Integer, List<Integer>> e : byCore.entrySet()) {
            CoreLoop loop = new CoreLoop(jobs, e.getValue(), results, failures, events, t0);
            int core = e.getKey();
            Runnable body = pin ? () -> {
                CpuAffinity.pinCurrentThread(core);
                loop.run();
            } : loop;
            threads.add(Thread.ofPlatform().name("perf-core-" + core).unstarted(body));
        }
        threads.forEach(Thread::start);
        Thread sampler = progress == null ? null : Thread.ofPlatform().daemon().name("perf-progress").start(() -> sample(jobs, t0, progress));
        try {
            for (Thread t : threads) {
                t.join();
            }
        } finally {
            if (sampler != null) {
                sampler.interrupt();
                sampler.join();
            }
        }
        return new Outcome(List.copyOf(jobs), java.util.Arrays.asList(results), java.util.Arrays.asList(failures));
    }

    /** Rounds of {@link PerfJob#reap()} over a core's jobs between two clock reads. */
    private static final int REAPS_PER_CLOCK = 16;

    /** How long after the threads start the measured phase begins, so that the cores start together once they have opened their channels. */
    private static final long START_DELAY_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    /** One core's thread: opens its jobs' channels, polls them round-robin, drains, shares its CPU out. */
    private record CoreLoop(List<PerfJob> jobs, List<Integer> mine, PerfResult[] results, RuntimeException[] failures,
                            Consumer<String> events, long t0) implements Runnable {
        @Override
        public void run() {
            ThreadMXBean mx = ManagementFactory.getThreadMXBean();
            List<Integer> live = new ArrayList<>();
            try {
                for (int i : mine) {
                    try {
                        jobs.get(i).open();
                        live.add(i);
                    } catch (RuntimeException e) {
                        fail(i, e);
                    }
                }
                for (int i : new ArrayList<>(live)) {
                    try {
                        jobs.get(i).warmUp();
                    } catch (RuntimeException e) {
                        live.remove(Integer.valueOf(i));
                        fail(i, e);
                    }
                }
                while (System.nanoTime() - t0 < 0) {
                    Thread.onSpinWait();
                }
                // t0, or later when opening the channels took longer than the start delay
                long start = System.nanoTime();
                long cpu0 = mx.getCurrentThreadCpuTime();
                List<Integer> measuring = new ArrayList<>();
                for (int i : live) {
                    try {
                        jobs.get(i).begin(start, events);
                        measuring.add(i);
                    } catch (RuntimeException e) {
                        fail(i, e);
                    }
                }
                List<Integer> measured = new ArrayList<>();
                // The hot loop walks an array and reads the clock once per REAPS_PER_CLOCK rounds of reaping:
                // a clock read (~25 ns through the vDSO) per empty poll was a third of the loop's time at QD1,
                // and a completion that lands during one waits for it. bdevperf's reactor reads the TSC (~7 ns).
                int[] order = new int[measuring.size()];
                int running = 0;
                for (int i : measuring) {
                    order[running++] = i;
                }
                while (running == 1 && jobs.get(order[0]).waits()) {
                    // one job that sleeps or is paced (--completion, --rate): it waits for itself
                    int i = order[0];
                    try {
                        long now = System.nanoTime();
                        if (!jobs.get(i).poll(now)) {
                            running = 0;
                            measured.add(i);
                        } else {
                            jobs.get(i).waitStep(now);
                        }
                    } catch (RuntimeException e) {
                        running = 0;
                        fail(i, e);
                    }
                }
                while (running > 0) {
                    for (int round = 0; round < REAPS_PER_CLOCK; round++) {
                        for (int k = 0; k < running; k++) {
                            int i = order[k];
                            try {
                                jobs.get(i).reap();
                            } catch (RuntimeException e) {
                                order[k--] = order[--running];
                                order[running] = -1;
                                fail(i, e);
                            }
                        }
                    }
                    long now = System.nanoTime();
                    for (int k = 0; k < running; k++) {
                        int i = order[k];
                        try {
                            if (!jobs.get(i).poll(now)) {
                                order[k--] = order[--running];
                                measured.add(i);
                            }
                        } catch (RuntimeException e) {
                            order[k--] = order[--running];
                            fail(i, e);
                        }
                    }
                }
                long cpu = mx.getCurrentThreadCpuTime() - cpu0;
                List<Integer> draining = new ArrayList<>(measured);
                while (!draining.isEmpty()) {
                    for (int k = 0; k < draining.size(); k++) {
                        int i = draining.get(k);
                        try {
                            if (!jobs.get(i).drain(System.nanoTime())) {
                                draining.remove(k--);
                            }
                        } catch (RuntimeException e) {
                            draining.remove(k--);
                            measured.remove(Integer.valueOf(i));
                            fail(i, e);
                        }
                    }
                }
                long total = 0;
                for (int i : measured) {
                    total += jobs.get(i).measuredIos();
                }
                for (int i : measured) {
                    long share = total > 0 ? Math.round((double) cpu * jobs.get(i).measuredIos() / total) : cpu / measured.size();
                    results[i] = jobs.get(i).result(share);
                }
            } finally {
                for (int i : mine) {
                    jobs.get(i).close();
                }
            }
        }

        private void fail(int i, RuntimeException e) {
            failures[i] = e;
            jobs.get(i).close();
        }
    }

    private static void sample(List<PerfJob> jobs, long t0, Consumer<String> progress) {
        Map<String, Long> last = new LinkedHashMap<>();
        long lastNanos = t0;
        try {
            while (true) {
                Thread.sleep(TimeUnit.NANOSECONDS.toMillis(SAMPLE_NANOS));
                long now = System.nanoTime();
                progress.accept(line(jobs, last, (now - t0) / 1e9, (now - lastNanos) / 1e9));
                lastNanos = now;
            }
        } catch (InterruptedException e) {
            // the jobs are done
        }
    }

    /** {@code 3.0 s  3 jobs running: 123,456 IOPS  482.25 MiB/s  (VirtioBlk0 41,000  VirtioScsi0t0 40,000 ...)} */
    static String line(List<PerfJob> jobs, Map<String, Long> last, double secs, double window) {
        Map<String, Long> ios = new LinkedHashMap<>();
        long bytes = 0;
        long running = 0;
        for (int i = 0; i < jobs.size(); i++) {
            PerfJob j = jobs.get(i);
            ios.merge(j.bdev().name(), j.liveIos(), Long::sum);
            bytes += j.liveBytes();
            running += j.isRunning() ? 1 : 0;
        }
        long total = ios.values().stream().mapToLong(Long::longValue).sum();
        StringBuilder per = new StringBuilder();
        for (Map.Entry<String, Long> e : ios.entrySet()) {
            long before = last.getOrDefault(e.getKey(), 0L);
            per.append(per.isEmpty() ? "" : "  ").append(String.format(Locale.ROOT, "%s %,.0f", e.getKey(), (e.getValue() - before) / window));
            last.put(e.getKey(), e.getValue());
        }
        return String.format(Locale.ROOT, "%6.1f s  %d of %d jobs running: %,.0f IOPS  %,.2f MiB/s  (last second, IOPS: %s)",
                secs, running, jobs.size(), total / secs, bytes / secs / (1 << 20), per);
    }
}
