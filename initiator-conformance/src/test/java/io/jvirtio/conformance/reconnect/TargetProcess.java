package io.jvirtio.conformance.reconnect;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The Java target in a JVM of its own ({@code io.jvirtio.backend.TargetMain}), so a test can kill
 * it the way a crash does: SIGKILL, no close, no goodbye on the socket.
 */
final class TargetProcess implements AutoCloseable {
    private static final long START_TIMEOUT_MILLIS = 20_000;

    private final Process process;
    private final Path socket;
    private final Path log;

    private TargetProcess(Process process, Path socket, Path log) {
        this.process = process;
        this.socket = socket;
        this.log = log;
    }

    /**
     * Starts {@code TargetMain --socket SOCKET ARGS...} and waits until the socket exists.
     *
     * @param args the device options, e.g. {@code --blk file:/tmp/d.img,size=64M}
     */
    static TargetProcess start(Path socket, Path log, String... args) throws IOException, InterruptedException {
        Files.deleteIfExists(socket);
        return launch("--socket", socket, log, args, true);
    }

    /**
     * Starts {@code TargetMain --connect SOCKET ARGS...}: the target in client mode, connecting (and
     * retrying) to a front-end in server mode that listens on {@code socket}. Does not wait.
     */
    static TargetProcess startClient(Path socket, Path log, String... args) throws IOException, InterruptedException {
        return launch("--connect", socket, log, args, false);
    }

    private static TargetProcess launch(String mode, Path socket, Path log, String[] args, boolean awaitSocket)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-Xmx256m");
        // a restarted target's downtime is mostly JVM start-up: C1 only and the serial GC shorten it
        cmd.add("-XX:TieredStopAtLevel=1");
        cmd.add("-XX:+UseSerialGC");
        // the tests read the target's INFO lines (inflight resubmits); the tools jar on this class path
        // makes slf4j-simple quiet by default
        cmd.add("-Dorg.slf4j.simpleLogger.defaultLogLevel=info");
        String queueMode = System.getProperty("jvirtio.target.queueMode"); // a suite run in the target's other queue mode
        if (queueMode != null) {
            cmd.add("-Djvirtio.target.queueMode=" + queueMode);
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("io.jvirtio.backend.TargetMain");
        cmd.add(mode);
        cmd.add(socket.toString());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        long deadline = System.currentTimeMillis() + START_TIMEOUT_MILLIS;
        while (awaitSocket && !Files.exists(socket)) {
            if (!p.isAlive()) {
                throw new IllegalStateException("target exited with " + p.exitValue() + " before " + socket + " appeared; log " + log
                        + ":\n" + Files.readString(log));
            }
            if (System.currentTimeMillis() > deadline) {
                p.destroyForcibly();
                throw new IllegalStateException("target did not create " + socket + " within " + START_TIMEOUT_MILLIS + " ms; log " + log);
            }
            Thread.sleep(20);
        }
        return new TargetProcess(p, socket, log);
    }

    /** SIGKILL, then waits for the process to be gone. */
    void kill() throws InterruptedException {
        process.destroyForcibly(); // SIGKILL on Linux
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            throw new IllegalStateException("target pid " + process.pid() + " did not die of SIGKILL within 10 s");
        }
    }

    Path socket() {
        return socket;
    }

    Path log() {
        return log;
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            kill();
        }
    }
}
