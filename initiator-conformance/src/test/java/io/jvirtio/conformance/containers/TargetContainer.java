package io.jvirtio.conformance.containers;

import com.github.dockerjava.api.model.Capability;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.containers.BindMode;
import org.testcontainers.containers.Container;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.output.Slf4jLogConsumer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.utility.DockerImageName;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * One vhost-user target in a container, for a test class: register it with
 * {@code @RegisterExtension static final TargetContainer T = TargetContainer.spdk(...)}. It starts
 * before the class's {@code @BeforeAll} methods and stops after its {@code @AfterAll} methods, so a
 * suite's own attach and detach happen while the target runs.
 *
 * <p>The container has no network; a fresh host directory is bind-mounted at {@code /var/tmp},
 * where the target puts its sockets (and SPDK its {@code spdk.sock}), so the initiator on the host
 * connects to {@link #socket(String)}. SPDK's container also gets the host's {@code /dev/hugepages}
 * and {@code SYS_NICE} (without it the default seccomp profile blocks get/set_mempolicy and DPDK's
 * EAL cannot init memory).
 */
public final class TargetContainer implements BeforeAllCallback, AfterAllCallback, AutoCloseable {
    /** Where the bind-mounted socket directory is inside the container. */
    public static final String CONTAINER_DIR = "/var/tmp";
    /** SPDK's JSON-RPC socket inside the container. */
    public static final String SPDK_RPC_SOCKET = CONTAINER_DIR + "/spdk.sock";
    /** Hugepages SPDK's vhost holds with {@code -s 256} (181 seen) plus initiators' memory. */
    static final int SPDK_HUGEPAGES = 320;
    private static final Duration START_TIMEOUT = Duration.ofSeconds(90);
    private static final Logger LOG = LoggerFactory.getLogger(TargetContainer.class);

    private final TargetImages image;
    private final String readyLine;
    private final List<String> command;
    private final String rpcConfig;
    private Path directory;
    private GenericContainer<?> container;

    private TargetContainer(TargetImages image, String readyLine, List<String> command, String rpcConfig) {
        this.image = image;
        this.readyLine = readyLine;
        this.command = command;
        this.rpcConfig = rpcConfig;
    }

    /**
     * SPDK's vhost target.
     *
     * @param rpcCalls a JSON list of {@code {"method", "params"}} SPDK RPC calls applied at start
     *                 (the entrypoint's {@code SPDK_RPC_CONFIG}); "[]" for none
     */
    public static TargetContainer spdk(String rpcCalls) {
        return new TargetContainer(TargetImages.SPDK, "jvirtio-spdk: ready", List.of(), rpcCalls);
    }

    /** qemu-storage-daemon with the entrypoint's arguments ({@code --file PATH --size N --socket PATH ...}). */
    public static TargetContainer qemuStorageDaemon(String... args) {
        return new TargetContainer(TargetImages.QEMU_STORAGE_DAEMON, "jvirtio-qsd: ready", List.of(args), null);
    }

    /** jvirtio's Java target with the arguments of {@code jvirtio target} ({@code --socket PATH --blk SPEC ...}). */
    public static TargetContainer javaTarget(String... args) {
        return new TargetContainer(TargetImages.JAVA_TARGET, "jvirtio-target: ready", List.of(args), null);
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        start();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        close();
    }

    /**
     * Starts the container and waits for its ready line (also done by {@link #beforeAll} when
     * registered as an extension).
     *
     * @return this
     * @throws org.opentest4j.TestAbortedException when no engine, image or hugepages are there
     *         (IllegalStateException when {@code JVIRTIO_REQUIRE_CONTAINERS=1})
     * @throws IllegalStateException with the container's output when it does not get ready
     */
    public TargetContainer start() throws IOException {
        ContainerAvailability.assumeEngine();
        if (image == TargetImages.SPDK) {
            HugePages.ensureHugetlbfs();
            HugePages.ensureFree(SPDK_HUGEPAGES, "SPDK's vhost target and jvirtio's front-end memory");
        }
        String ref = image.image();
        directory = Files.createTempDirectory("jvirtio-" + image.name().toLowerCase() + "-");
        GenericContainer<?> c = new GenericContainer<>(DockerImageName.parse(ref))
                .withFileSystemBind(directory.toString(), CONTAINER_DIR, BindMode.READ_WRITE)
                .withNetworkMode("none")
                .withLogConsumer(new Slf4jLogConsumer(LOG).withPrefix(image.name().toLowerCase()))
                .waitingFor(Wait.forLogMessage(".*" + readyLine + ".*\\n", 1).withStartupTimeout(START_TIMEOUT));
        if (!command.isEmpty()) {
            c.withCommand(command.toArray(String[]::new));
        }
        if (image == TargetImages.SPDK) {
            c.withFileSystemBind("/dev/hugepages", "/dev/hugepages", BindMode.READ_WRITE)
                    .withCreateContainerCmdModifier(cmd -> cmd.getHostConfig().withCapAdd(Capability.SYS_NICE))
                    .withEnv("SPDK_RPC_CONFIG", rpcConfig);
        }
        try {
            c.start();
        } catch (RuntimeException e) {
            String logs = c.getContainerId() != null ? c.getLogs() : "";
            c.stop();
            deleteDirectory();
            throw new IllegalStateException("the " + ref + " container did not get ready: " + e.getMessage()
                    + (logs.isEmpty() ? "" : "\ncontainer output:\n" + logs), e);
        }
        container = c;
        return this;
    }

    /** Stops the container and deletes its directory. */
    @Override
    public void close() {
        if (container != null) {
            container.stop();
            container = null;
        }
        deleteDirectory();
    }

    /** @return the host path of a socket the target made in its {@code /var/tmp} */
    public Path socket(String name) {
        return directory.resolve(name);
    }

    /** @return the bind-mounted directory on the host */
    public Path directory() {
        return directory;
    }

    /** @return the container's output so far */
    public String logs() {
        return container.getLogs();
    }

    /**
     * Runs a command in the container.
     *
     * @return its standard output
     * @throws IllegalStateException naming the command, its exit code and its standard error, when it fails
     */
    public String exec(String... cmd) {
        try {
            Container.ExecResult r = container.execInContainer(cmd);
            if (r.getExitCode() != 0) {
                throw new IllegalStateException(String.join(" ", cmd) + " in " + image.name().toLowerCase()
                        + " exited with " + r.getExitCode() + ": " + r.getStderr().strip() + " " + r.getStdout().strip());
            }
            return r.getStdout();
        } catch (IOException e) {
            throw new UncheckedIOException(String.join(" ", cmd), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted: " + String.join(" ", cmd), e);
        }
    }

    /** Calls SPDK's {@code rpc.py} in the container, e.g. {@code rpc("bdev_malloc_create", "-b", "M0", "64", "512")}. */
    public String rpc(String... args) {
        List<String> cmd = new ArrayList<>(List.of("rpc.py", "-s", SPDK_RPC_SOCKET));
        cmd.addAll(List.of(args));
        return exec(cmd.toArray(String[]::new));
    }

    private void deleteDirectory() {
        if (directory == null) {
            return;
        }
        try (Stream<Path> s = Files.walk(directory)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            LOG.warn("could not delete {}: {}", directory, e.toString());
        }
        directory = null;
    }
}
