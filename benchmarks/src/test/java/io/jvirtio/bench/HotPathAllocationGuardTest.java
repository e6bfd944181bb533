package io.jvirtio.bench;

import org.junit.jupiter.api.Test;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The benchmarks' regression guard in {@code mvn verify}: every benchmark runs briefly through JMH
 * (one fork each, {@code -Xbatch} so the JIT has compiled the hot path by the end of the warm-up, one
 * warm-up and three short measurement iterations) with JMH's GC profiler, and each hot path must allocate
 * (next to) nothing: {@code gc.alloc.rate.norm} below {@link #HOT_PATH_BYTES_PER_OP} in its best
 * measurement iteration. Nothing here asserts a speed.
 *
 * <p>Why the best iteration and not the mean: the profiler counts every thread's allocations, and
 * compiler threads still at work on a loaded machine add up to a few hundred KB/s that have nothing
 * to do with the benchmark (0.4 B/op seen once at 400 k ops/s). An allocation per I/O or per poll is
 * at least 16 bytes per op in every iteration of the depth-1 benchmarks; the floor JMH reports for
 * zero-allocating code is about 0.001-0.05 B/op (its own per-iteration bookkeeping spread over the ops).
 */
class HotPathAllocationGuardTest {
    /** Largest gc.alloc.rate.norm taken for "allocates nothing". */
    private static final double HOT_PATH_BYTES_PER_OP = 1.0;
    /**
     * SyncIo is for setup code and tools, not a hot path: it makes a token and a submission lambda per
     * call (48 B/op measured). The guard keeps it from growing.
     */
    private static final double SYNC_IO_BYTES_PER_OP = 64;
    /**
     * The async layer (AsyncBdev) allocates per I/O by design: the request, its future (and what
     * CompletableFuture.allOf builds), a queue node. The guard keeps it from growing.
     */
    private static final double ASYNC_BYTES_PER_OP = 256;
    private static final String NORM = "gc.alloc.rate.norm";

    /** Benchmark label (method and parameters) to its bound. */
    private static final Map<String, Double> EXPECTED = new TreeMap<>();

    static {
        for (String m : List.of("submitComplete", "submitCompleteBatch32")) {
            for (String chain : List.of("1", "3")) {
                EXPECTED.put("SplitRingSubmitCompleteBenchmark." + m + " chainLength=" + chain, HOT_PATH_BYTES_PER_OP);
            }
        }
        for (String cls : List.of("BlkReadWriteBenchmark", "ScsiReadWriteBenchmark")) {
            for (String m : List.of("read4k", "write4k", "read4kDepth32")) {
                EXPECTED.put(cls + "." + m, HOT_PATH_BYTES_PER_OP);
            }
        }
        EXPECTED.put("SyncIoBenchmark.read4k", SYNC_IO_BYTES_PER_OP);
        EXPECTED.put("SyncIoBenchmark.write4k", SYNC_IO_BYTES_PER_OP);
        EXPECTED.put("AsyncBdevBenchmark.blockingRead4k", ASYNC_BYTES_PER_OP);
        EXPECTED.put("AsyncBdevBenchmark.futures32", ASYNC_BYTES_PER_OP);
    }

    @Test
    void hotPathsAllocateNothingPerOp() throws RunnerException {
        Options options = new OptionsBuilder()
                .include(HotPathAllocationGuardTest.class.getPackageName() + "\\..*Benchmark\\..*")
                .forks(1)
                // replaces the classes' @Fork arguments, so they are repeated
                .jvmArgsAppend(BenchmarkJvm.NATIVE_ACCESS, BenchmarkJvm.GC, BenchmarkJvm.QUIET, BenchmarkJvm.UNSAFE, "-Xbatch")
                .warmupIterations(1)
                .warmupTime(TimeValue.milliseconds(700))
                .measurementIterations(3)
                .measurementTime(TimeValue.milliseconds(300))
                .addProfiler(GCProfiler.class)
                .shouldFailOnError(true)
                .verbosity(VerboseMode.SILENT)
                .build();
        Collection<RunResult> results = new Runner(options).run();

        Map<String, double[]> measured = new TreeMap<>();
        for (RunResult run : results) {
            for (BenchmarkResult b : run.getBenchmarkResults()) {
                double best = Double.MAX_VALUE;
                for (IterationResult it : b.getIterationResults()) {
                    Result<?> norm = it.getSecondaryResults().get(NORM);
                    assertTrue(norm != null, label(b.getParams()) + ": no " + NORM + " (GC profiler not run?)");
                    best = Math.min(best, norm.getScore());
                }
                measured.put(label(b.getParams()), new double[] {b.getPrimaryResult().getScore(), best});
            }
        }
        StringBuilder report = new StringBuilder();
        List<String> failures = new ArrayList<>();
        measured.forEach((name, v) -> {
            report.append(String.format("%-60s %,14.0f ops/s %10.3f B/op%n", name, v[0], v[1]));
            Double bound = EXPECTED.get(name);
            if (bound != null && !(v[1] < bound)) {
                failures.add(name + ": " + v[1] + " B/op, bound " + bound);
            }
        });
        System.out.print(report);
        assertEquals(EXPECTED.keySet(), measured.keySet(), "benchmarks run");
        assertTrue(failures.isEmpty(), "allocation on a hot path:\n" + String.join("\n", failures) + "\n\n" + report);
    }

    private static String label(BenchmarkParams p) {
        String name = p.getBenchmark();
        StringBuilder s = new StringBuilder(name.substring(name.lastIndexOf('.', name.lastIndexOf('.') - 1) + 1));
        for (String key : p.getParamsKeys()) {
            s.append(' ').append(key).append('=').append(p.getParam(key));
        }
        return s.toString();
    }
}
