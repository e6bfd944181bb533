package io.jvirtio.tools.perf;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

/** CPU time of a process, from {@code /proc/PID/stat} (user + system, all threads). */
public final class ProcessCpu {
    /** {@code sysconf(_SC_CLK_TCK)} on Linux x86_64. */
    private static final long CLOCK_TICKS_PER_SECOND = 100;
    private static final long NANOS_PER_TICK = 1_000_000_000L / CLOCK_TICKS_PER_SECOND;
    /** Fields after the command name: state is field 3, utime 14, stime 15 (man 5 proc). */
    private static final int UTIME_AFTER_COMM = 14 - 3;
    private static final int STIME_AFTER_COMM = 15 - 3;

    private ProcessCpu() {
    }

    /** @return this JVM's pid */
    public static long self() {
        return ProcessHandle.current().pid();
    }

    /**
     * @return the CPU time of {@code pid} in nanoseconds (10 ms resolution), or -1 when it cannot be read
     */
    public static long nanos(long pid) {
        if (pid == self()) {
            if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
                return os.getProcessCpuTime();
            }
        }
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            // the command name is in parentheses and may contain spaces: split after the last ')'
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split("\\s+");
            long ticks = Long.parseLong(f[UTIME_AFTER_COMM]) + Long.parseLong(f[STIME_AFTER_COMM]);
            return ticks * NANOS_PER_TICK;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }
}
