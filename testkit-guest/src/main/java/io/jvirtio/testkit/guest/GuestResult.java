package io.jvirtio.testkit.guest;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * What one guest run produced.
 *
 * @param exitStatus          the script's exit status, or {@code -1} when the guest never reported one
 *                            (QEMU failed to start, the kernel panicked, the run timed out...)
 * @param timedOut            whether the run hit its timeout and QEMU was killed
 * @param qemuExitCode        QEMU's exit code ({@code -1} when it was killed)
 * @param wallTime            from starting QEMU to its exit
 * @param scriptStartUptime   the guest's uptime in seconds when the script started (boot + module
 *                            loading), or {@code -1} when it never started
 * @param scriptOutput        the script's stdout and stderr alone (the guest's second serial port)
 * @param console             the whole serial console: kernel messages, the init's lines, the script's output
 * @param qemuOutput          what QEMU itself printed (errors about devices, sockets...)
 * @param command             the QEMU command line
 * @param logDir              where the logs were kept, or {@code null} when they were deleted
 */
public record GuestResult(int exitStatus, boolean timedOut, int qemuExitCode, Duration wallTime, double scriptStartUptime,
                          String scriptOutput, String console, String qemuOutput, List<String> command, Path logDir) {
    /** Prefix of the lines the guest helper {@code skip_step} prints. */
    public static final String SKIP_PREFIX = "jvirtio-skip: ";

    /** @return whether the script ran to its end with status 0 */
    public boolean succeeded() {
        return exitStatus == 0 && !timedOut;
    }

    /** @return the reasons given by {@code skip_step} in the script, in order */
    public List<String> skippedSteps() {
        return scriptOutput.lines().filter(l -> l.startsWith(SKIP_PREFIX)).map(l -> l.substring(SKIP_PREFIX.length())).toList();
    }

    /**
     * @param lines how many
     * @return the last lines of the console
     */
    public String consoleTail(int lines) {
        List<String> all = console.lines().toList();
        return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    }

    /** @return a multi-line diagnosis: status, timings, QEMU's output and the console's tail */
    public String describe() {
        StringBuilder b = new StringBuilder();
        b.append("guest ");
        if (timedOut) {
            b.append("timed out after ").append(wallTime.toMillis()).append(" ms and was killed");
        } else if (exitStatus < 0) {
            b.append("reported no exit status (QEMU exit code ").append(qemuExitCode).append(')');
        } else {
            b.append("script exit status ").append(exitStatus);
        }
        b.append("; wall time ").append(wallTime.toMillis()).append(" ms");
        if (scriptStartUptime >= 0) {
            b.append(", script started at guest uptime ").append(scriptStartUptime).append(" s");
        }
        if (logDir != null) {
            b.append("; logs in ").append(logDir);
        }
        b.append("\nQEMU command: ").append(String.join(" ", command));
        if (!qemuOutput.isBlank()) {
            b.append("\nQEMU output:\n").append(qemuOutput.strip());
        }
        b.append("\nconsole (last 60 lines):\n").append(consoleTail(60));
        return b.toString();
    }

    /**
     * @return this result when the script succeeded
     * @throws GuestException with {@link #describe()} otherwise
     */
    public GuestResult requireSuccess() {
        if (!succeeded()) {
            throw new GuestException(describe(), this);
        }
        return this;
    }
}
