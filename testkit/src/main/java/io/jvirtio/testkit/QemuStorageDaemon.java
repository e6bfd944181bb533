package io.jvirtio.testkit;



import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Runs qemu-storage-daemon as a vhost-user-blk target on a temporary unix socket, for tests.
 *
 * <pre>{@code
 * try (QemuStorageDaemon qsd = QemuStorageDaemon.file(image).numQueues(2).start()) {
 *     VhostUserFrontend.connect(qsd.socketPath(), memory, options) ...
 * }
 * }</pre>
 *
 * <p>The daemon runs in the foreground as a child of the JVM (not {@code --daemonize}: a daemonised
 * process is re-parented to PID 1, which on these machines does not reap it, leaving zombies). It
 * is ready when its socket is in the listening state ({@code /proc/net/unix} shows
 * {@code __SO_ACCEPTCON}), which {@link Builder#start()} waits for; its stdout and stderr go to a
 * log file whose content is put in the error when it fails to start. {@link #close()} terminates
 * it (SIGTERM, then SIGKILL) and deletes the temporary directory; a shutdown hook kills daemons
 * that tests forgot.
 *
 * <p>When the binary is missing, {@link Builder#start()} throws an error naming the binary and the
 * Debian package. Test code checks first with {@code @RequiresQemuStorageDaemon} (virtio-core's
 * test-jar), which skips, or fails when {@code JVIRTIO_REQUIRE_QSD=1} (CI).
 */
public final class QemuStorageDaemon implements AutoCloseable {
    /** Environment variable naming another binary. */
    public static final String BINARY_ENV = "JVIRTIO_QSD_BINARY";
    /** Environment variable that turns a missing binary from a skip into a failure when {@code 1}. */
    public static final String REQUIRE_ENV = "JVIRTIO_REQUIRE_QSD";
    /** Where Debian installs it. */
    public static final Path DEFAULT_BINARY = Path.of("/usr/bin/qemu-storage-daemon");
    /** The Debian package that ships the binary. */
    public static final String DEBIAN_PACKAGE = "qemu-system-common";
    /** How long {@link Builder#start()} waits for the socket by default. */
    public static final Duration DEFAULT_START_TIMEOUT = Duration.ofSeconds(15);

    /** {@code __SO_ACCEPTCON} in the Flags column of /proc/net/unix: a listening socket. */
    private static final int SO_ACCEPTCON = 0x10000;
    private static final Path PROC_NET_UNIX = Path.of("/proc/net/unix");
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(5);
    private static final Set<QemuStorageDaemon> RUNNING = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> RUNNING.forEach(QemuStorageDaemon::close), "qsd-cleanup"));
    }

    private final Process process;
    private final Path workDir;
    private final Path socketPath;
    private final Path logFile;
    private final List<String> command;
    private final int numQueues;
    private volatile boolean closed;
    /** The output, kept when close() deletes the log. */
    private volatile String lastOutput = "";

    private QemuStorageDaemon(Process process, Path workDir, Path socketPath, Path logFile, List<String> command, int numQueues) {
        this.process = process;
        this.workDir = workDir;
        this.socketPath = socketPath;
        this.logFile = logFile;
        this.command = command;
        this.numQueues = numQueues;
    }

    // ------------------------------------------------------------------ availability

    /** @return the binary: {@code $JVIRTIO_QSD_BINARY}, {@link #DEFAULT_BINARY}, or the first on PATH */
    public static Optional<Path> findBinary() {
        String override = System.getenv(BINARY_ENV);
        if (override != null && !override.isBlank()) {
            Path p = Path.of(override);
            return Files.isExecutable(p) ? Optional.of(p) : Optional.empty();
        }
        if (Files.isExecutable(DEFAULT_BINARY)) {
            return Optional.of(DEFAULT_BINARY);
        }
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(":")) {
                if (!dir.isEmpty()) {
                    Path p = Path.of(dir, "qemu-storage-daemon");
                    if (Files.isExecutable(p)) {
                        return Optional.of(p);
                    }
                }
            }
        }
        return Optional.empty();
    }

    /**
     * @return what to tell a user when the binary is missing: where we looked and what to install
     */
    public static String notFoundMessage() {
        String where = System.getenv(BINARY_ENV) != null ? "$" + BINARY_ENV + "=" + System.getenv(BINARY_ENV)
                : DEFAULT_BINARY + " and PATH";
        return "qemu-storage-daemon not found (looked at " + where + "); install the Debian package " + DEBIAN_PACKAGE
                + " (apt-get install --no-install-recommends " + DEBIAN_PACKAGE + ")";
    }

    // ------------------------------------------------------------------ builders

    /** @return a builder exporting a raw image file */
    public static Builder file(Path image) {
        // discard=unmap: a guest discard punches a hole in the file, as a user checking discard expects.
        return new Builder("driver=file,node-name=disk0,discard=unmap,filename=" + escape(image.toAbsolutePath().toString()));
    }

    /** @return a builder exporting a null-co device of {@code sizeBytes} that reads zeroes */
    public static Builder nullCo(long sizeBytes) {
        if (sizeBytes <= 0) {
            throw new IllegalArgumentException("null-co size " + sizeBytes + " must be positive");
        }
        return new Builder("driver=null-co,node-name=disk0,size=" + sizeBytes + ",read-zeroes=on");
    }

    /** QEMU option syntax: a comma inside a value is doubled. */
    private static String escape(String value) {
        return value.replace(",", ",,");
    }

    /** Options of one qemu-storage-daemon run. */
    public static final class Builder {
        private final String blockdev;
        private int numQueues = 1;
        private boolean writable = true;
        private int logicalBlockSize;
        private Duration startTimeout = DEFAULT_START_TIMEOUT;
        private Path binary;
        private Path socket;

        private Builder(String blockdev) {
            this.blockdev = blockdev;
        }

        /** @param n the export's {@code num-queues} (default 1) */
        public Builder numQueues(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("num-queues " + n);
            }
            this.numQueues = n;
            return this;
        }

        /** @param on the export's {@code writable} (default on) */
        public Builder writable(boolean on) {
            this.writable = on;
            return this;
        }

        /** @param bytes the export's {@code logical-block-size} (512, 4096, ...); 0 leaves the daemon's default (512) */
        public Builder logicalBlockSize(int bytes) {
            this.logicalBlockSize = bytes;
            return this;
        }

        /** @param d how long to wait for the socket */
        public Builder startTimeout(Duration d) {
            this.startTimeout = d;
            return this;
        }

        /**
         * @param path the export's socket, instead of one in a fresh temporary directory: for a daemon
         *             restarted on the same socket (qemu-storage-daemon replaces a stale socket file)
         */
        public Builder socket(Path path) {
            this.socket = path;
            return this;
        }

        /** @param path a binary other than the one {@link #findBinary()} finds */
        public Builder binary(Path path) {
            this.binary = path;
            return this;
        }

        /**
         * Starts the daemon and waits until its socket listens.
         *
         * @return the running daemon
         * @throws IllegalStateException when it exits or does not listen in time; the message holds its stderr
         */
        public QemuStorageDaemon start() {
            Path bin = binary != null ? binary : findBinary().orElseThrow(() -> new IllegalStateException(notFoundMessage()));
            Path dir;
            try {
                dir = Files.createTempDirectory("jvirtio-qsd-");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            Path socket = this.socket != null ? this.socket : dir.resolve("vhost-user-blk.sock");
            Path log = dir.resolve("qemu-storage-daemon.log");
            String export = "type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path=" + escape(socket.toString())
                    + ",writable=" + (writable ? "on" : "off") + ",num-queues=" + numQueues
                    + (logicalBlockSize > 0 ? ",logical-block-size=" + logicalBlockSize : "");
            List<String> cmd = List.of(bin.toString(), "--blockdev", blockdev, "--export", export);
            Process p;
            try {
                p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
                p.getOutputStream().close();
            } catch (IOException e) {
                deleteTree(dir);
                throw new IllegalStateException("cannot run " + String.join(" ", cmd) + ": " + e.getMessage(), e);
            }
            QemuStorageDaemon qsd = new QemuStorageDaemon(p, dir, socket, log, cmd, numQueues);
            RUNNING.add(qsd);
            qsd.awaitListening(startTimeout);
            return qsd;
        }
    }

    private void awaitListening(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (isListening(socketPath)) {
                return;
            }
            if (!process.isAlive()) {
                String why = "exited with code " + process.exitValue();
                close();
                throw startFailure(why);
            }
            if (System.nanoTime() > deadline) {
                close();
                throw startFailure("did not listen on " + socketPath + " within " + timeout.toMillis() + " ms");
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                close();
                throw new IllegalStateException("interrupted while starting qemu-storage-daemon", e);
            }
        }
    }

    private IllegalStateException startFailure(String why) {
        return new IllegalStateException("qemu-storage-daemon " + why + "; command: " + String.join(" ", command)
                + "; its output: " + lastOutput);
    }

    /** @return whether /proc/net/unix lists {@code socket} as listening (falls back to the file's existence) */
    public static boolean isListening(Path socket) {
        List<String> lines;
        try {
            lines = Files.readAllLines(PROC_NET_UNIX, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return Files.exists(socket);
        }
        String wanted = socket.toAbsolutePath().toString();
        for (String line : lines) {
            String[] f = line.trim().split("\\s+");
            // Num RefCount Protocol Flags Type St Inode Path
            if (f.length >= 8 && f[7].equals(wanted)) {
                try {
                    if ((Integer.parseInt(f[3], 16) & SO_ACCEPTCON) != 0) {
                        return true;
                    }
                } catch (NumberFormatException ignored) {
                    // header or odd line
                }
            }
        }
        return false;
    }

    // ------------------------------------------------------------------ accessors

    /** @return the vhost-user socket */
    public Path socketPath() {
        return socketPath;
    }

    /** @return the daemon's pid */
    public long pid() {
        return process.pid();
    }

    /** @return the export's num-queues */
    public int numQueues() {
        return numQueues;
    }

    /** @return whether the daemon still runs */
    public boolean isAlive() {
        return process.isAlive();
    }

    /** @return what the daemon wrote to stdout and stderr so far */
    public String output() {
        try {
            return Files.exists(logFile) ? Files.readString(logFile) : lastOutput;
        } catch (IOException e) {
            return "(cannot read " + logFile + ": " + e.getMessage() + ")";
        }
    }

    /** Terminates the daemon (SIGTERM, SIGKILL after 5 s) and deletes its temporary directory. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        RUNNING.remove(this);
        try {
            if (process.isAlive()) {
                process.destroy();
                if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                    process.destroyForcibly().waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        } finally {
            lastOutput = output();
            deleteTree(workDir);
        }
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            List<Path> all = new ArrayList<>(s.sorted(Comparator.reverseOrder()).toList());
            for (Path p : all) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // best effort: a temp directory left behind is not a test failure
        }
    }

    @Override
    public String toString() {
        return "QemuStorageDaemon[pid " + process.pid() + ", " + socketPath + (closed ? ", closed" : "") + "]";
    }
}
