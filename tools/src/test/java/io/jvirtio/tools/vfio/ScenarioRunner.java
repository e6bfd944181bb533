package io.jvirtio.tools.vfio;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs named scenarios one after the other and prints one line for each: {@code ok: NAME (MS ms)}
 * or {@code FAIL: NAME: REASON}, the latter followed by {@code   | } lines with the stack trace
 * (not for a plain {@link GuestCheckException}, whose message says it all). {@link GuestLines}
 * reads them back on the host. A watchdog fails a scenario that runs too long, prints every
 * thread's stack and halts the JVM: a stuck device call cannot be interrupted, and one hang must
 * not eat the guest's whole timeout.
 */
final class ScenarioRunner {
    /** One scenario's body. */
    interface Scenario {
        void run() throws Exception;
    }

    private final PrintStream out;
    private final long timeoutNanos;
    private final Map<String, String> failures = new LinkedHashMap<>();
    private volatile String running;
    private volatile long runningSince;

    /**
     * @param out            where the lines go
     * @param timeoutSeconds how long one scenario may take; 0 for no watchdog
     */
    ScenarioRunner(PrintStream out, long timeoutSeconds) {
        this.out = out;
        this.timeoutNanos = TimeUnit.SECONDS.toNanos(timeoutSeconds);
        if (timeoutSeconds > 0) {
            Thread w = new Thread(this::watch, "scenario-watchdog");
            w.setDaemon(true);
            w.start();
        }
    }

    /** @return where the lines go (scenarios print their details there too) */
    PrintStream out() {
        return out;
    }

    /** @return failed scenario names with their one-line reasons, in order */
    Map<String, String> failures() {
        return failures;
    }

    /** Runs {@code scenario} and prints its line. */
    void run(String name, Scenario scenario) {
        long t0 = System.nanoTime();
        runningSince = t0;
        running = name;
        try {
            scenario.run();
            running = null;
            out.println("ok: " + name + " (" + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + " ms)");
        } catch (Throwable t) {
            running = null;
            String reason = oneLine(t);
            failures.put(name, reason);
            out.println("FAIL: " + name + ": " + reason);
            if (!(t instanceof GuestCheckException)) {
                StringWriter w = new StringWriter();
                t.printStackTrace(new PrintWriter(w));
                w.toString().lines().limit(40).forEach(l -> out.println("  | " + l));
            }
        }
        out.flush();
    }

    /**
     * @param scenario a scenario that ran before
     * @throws GuestCheckException "not run" when it failed or {@code device} is null
     */
    void requireAttached(Object device, String scenario) {
        if (device == null) {
            throw new GuestCheckException("not run: " + scenario + " failed (" + failures.getOrDefault(scenario, "not attached") + ")");
        }
    }

    static String oneLine(Throwable t) {
        String m = t instanceof GuestCheckException ? t.getMessage() : t.toString();
        return (m == null ? t.getClass().getName() : m).replace('\n', ' ');
    }

    private void watch() {
        while (true) {
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                return;
            }
            String name = running;
            if (name != null && System.nanoTime() - runningSince > timeoutNanos) {
                out.println("FAIL: " + name + ": did not finish within " + TimeUnit.NANOSECONDS.toSeconds(timeoutNanos)
                        + " s; the JVM stops here");
                Thread.getAllStackTraces().forEach((t, stack) -> {
                    out.println("  | thread " + t.getName());
                    for (StackTraceElement e : stack) {
                        out.println("  | \tat " + e);
                    }
                });
                out.flush();
                Runtime.getRuntime().halt(3);
            }
        }
    }
}
