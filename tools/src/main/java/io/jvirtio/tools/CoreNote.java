package io.jvirtio.tools;

/**
 * The line the demo prints about where its threads run, so that its figures can be read for what
 * they are: the Java target and the initiator share this process and, on a small machine, its cores.
 */
final class CoreNote {
    private CoreNote() {
    }

    /**
     * @param twoCores  whether the target and the job have a CPU each
     * @param targetCpu the CPU the target's queue threads poll on (pinned)
     * @param jobCpu    the CPU each job's thread runs on (pinned)
     */
    static String describe(boolean twoCores, int targetCpu, int jobCpu) {
        if (!twoCores) {
            return "cores: 1 CPU (" + targetCpu + "): the target's queue threads and the initiator's job thread take turns on it,"
                    + " so every I/O waits for a context switch; expect figures far below those of two cores (jvirtio perf against a"
                    + " target on another core shows what the initiator does)";
        }
        return "cores: the Java target's queue threads poll on CPU " + targetCpu + "; one job at a time, its thread on CPU " + jobCpu
                + " polling its request queue (as jvirtio perf against a target on another core)";
    }
}
