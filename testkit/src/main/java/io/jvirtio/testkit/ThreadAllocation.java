package io.jvirtio.testkit;

import java.lang.management.ManagementFactory;
import java.util.Arrays;

/**
 * Bytes allocated by given threads while a workload runs, counted by the JVM per thread
 * ({@link com.sun.management.ThreadMXBean#getThreadAllocatedBytes}): the allocation tests of the
 * Java target's queue threads. Up to {@code rounds} rounds are measured and the best one counts, because
 * on a loaded machine the JIT may not have compiled the path yet (the interpreter and C1 allocate where
 * C2's escape analysis does not); an allocation per operation shows in every round.
 */
public final class ThreadAllocation {
    /** The rounds measured: each one's bytes, and the best per operation. */
    public record Result(long[] roundBytes, double bestPerOp) {
        @Override
        public String toString() {
            return Arrays.toString(roundBytes) + " bytes in rounds (best " + bestPerOp + " per operation)";
        }
    }

    private ThreadAllocation() {
    }

    /**
     * Runs {@code workload} ({@code ops} operations) up to {@code rounds} times, stopping at the first round
     * below {@code bound} bytes per operation.
     *
     * @param threadIds the threads whose allocations count
     */
    public static Result measure(long[] threadIds, int rounds, long ops, double bound, Runnable workload) {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long[] bytes = new long[0];
        double best = Double.MAX_VALUE;
        for (int round = 0; round < rounds && best >= bound; round++) {
            long before = allocated(mx, threadIds);
            workload.run();
            long used = allocated(mx, threadIds) - before;
            best = Math.min(best, (double) used / ops);
            bytes = Arrays.copyOf(bytes, bytes.length + 1);
            bytes[bytes.length - 1] = used;
        }
        return new Result(bytes, best);
    }

    /** @return the ids of the live threads whose names start with {@code prefix} (none: an empty array) */
    public static long[] threadsNamed(String prefix) {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith(prefix)).mapToLong(Thread::threadId).toArray();
    }

    private static long allocated(com.sun.management.ThreadMXBean mx, long[] threadIds) {
        long sum = 0;
        for (long tid : threadIds) {
            sum += Math.max(0, mx.getThreadAllocatedBytes(tid));
        }
        return sum;
    }
}
