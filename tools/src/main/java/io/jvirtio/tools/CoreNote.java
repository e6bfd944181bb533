package io.jvirtio.tools;

/**
 * The line the demo prints about where its threads run, so that its figures can be read for what
 * they are: the Java target and the initiator share this process and, on a small machine, its cores.
 */
final class CoreNote {
    private CoreNote() {
    }

    /** @param cpus the CPUs this JVM may run on */
    static String describe(int cpus) {
        if (cpus < 2) {
            return "cores: 1 CPU: the target's queue threads and the initiator's job thread take turns on it, so every I/O"
                    + " waits for a context switch; expect figures far below those of two cores (jvirtio perf against a"
                    + " target on another core shows what the initiator does)";
        }
        return "cores: " + cpus + " CPUs; one job at a time: its thread polls the initiator's request queue, the target's"
                + " queue thread for that queue serves it on another CPU (both left to the OS scheduler)";
    }
}
