package io.jvirtio.tools.perf;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Runs {@link PerfJob}s at once, one thread each, and waits for all of them. A job that fails
 * (its channel cannot open, the device is gone) never hides the others: every job's result or
 * failure comes back. While they run, a sampler thread reports one live line about all of them
 * (every bdev, not only the first job's) about once a second.
 *
 * <p>The thread-per-job placement is where the per-core scheduler (SPDK's reactors: one thread
 * per core driving every job placed on it) will replace {@link #run}.
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
     * Runs the jobs and waits for all of them.
     *
     * @param jobs     the jobs; each gets a thread of its own
     * @param events   lines that must stay (a job's first I/O error), or null
     * @param progress the live line about all jobs, about once a second, or null
     */
    public static Outcome run(List<PerfJob> jobs, Consumer<String> events, Consumer<String> progress) throws InterruptedException {
        int n = jobs.size();
        PerfResult[] results = new PerfResult[n];
        RuntimeException[] failures = new RuntimeException[n];
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int idx = i;
            PerfJob job = jobs.get(i);
            Thread t = new Thread(() -> {
                try {
                    results[idx] = job.run(events);
                } catch (RuntimeException e) {
                    failures[idx] = e;
                }
            }, "perf-" + job.bdev().name() + "-" + i);
            threads.add(t);
        }
        long t0 = System.nanoTime();
        threads.forEach(Thread::start);
        Thread sampler = progress == null ? null : Thread.ofPlatform().daemon().name("perf-progress").start(() -> sample(jobs, threads, t0, progress));
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

    private static void sample(List<PerfJob> jobs, List<Thread> threads, long t0, Consumer<String> progress) {
        Map<String, Long> last = new LinkedHashMap<>();
        long lastNanos = t0;
        try {
            while (true) {
                Thread.sleep(TimeUnit.NANOSECONDS.toMillis(SAMPLE_NANOS));
                long now = System.nanoTime();
                progress.accept(line(jobs, threads, last, (now - t0) / 1e9, (now - lastNanos) / 1e9));
                lastNanos = now;
            }
        } catch (InterruptedException e) {
            // the jobs are done
        }
    }

    /** {@code 3.0 s  3 jobs running: 123,456 IOPS  482.25 MiB/s  (VirtioBlk0 41,000  VirtioScsi0t0 40,000 ...)} */
    static String line(List<PerfJob> jobs, List<Thread> threads, Map<String, Long> last, double secs, double window) {
        Map<String, Long> ios = new LinkedHashMap<>();
        long bytes = 0;
        long running = 0;
        for (int i = 0; i < jobs.size(); i++) {
            PerfJob j = jobs.get(i);
            ios.merge(j.bdev().name(), j.liveIos(), Long::sum);
            bytes += j.liveBytes();
            running += threads.get(i).isAlive() ? 1 : 0;
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
