package io.jvirtio.conformance.containers;

import com.github.dockerjava.api.exception.NotFoundException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.DockerClientFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The images the container suite runs, as {@code docker/build.sh} names them (tagged by the content
 * of their inputs). An image can be named instead by a system property or environment variable,
 * e.g. {@code -Djvirtio.spdk.image=my/spdk:26.01} or {@code JVIRTIO_SPDK_IMAGE=...}, to run the
 * suite against another SPDK build.
 */
public enum TargetImages {
    /** SPDK's vhost target, rpc.py and bdevperf. Built by {@code docker/build.sh spdk} (about 6 minutes). */
    SPDK("spdk", "jvirtio.spdk.image", "JVIRTIO_SPDK_IMAGE", false),
    /** qemu-storage-daemon exporting vhost-user-blk. */
    QEMU_STORAGE_DAEMON("qemu-storage-daemon", "jvirtio.qsd.image", "JVIRTIO_QSD_IMAGE", false),
    /** jvirtio's own target from the built tools jar; built on demand (it takes seconds). */
    JAVA_TARGET("java-target", "jvirtio.java-target.image", "JVIRTIO_JAVA_TARGET_IMAGE", true);

    private static final Logger LOG = LoggerFactory.getLogger(TargetImages.class);
    private static final long BUILD_SCRIPT_TIMEOUT_MINUTES = 20;
    private static final Map<TargetImages, String> RESOLVED = new ConcurrentHashMap<>();

    private final String target;
    private final String property;
    private final String env;
    private final boolean buildOnDemand;

    TargetImages(String target, String property, String env, boolean buildOnDemand) {
        this.target = target;
        this.property = property;
        this.env = env;
        this.buildOnDemand = buildOnDemand;
    }

    /**
     * @return the image reference to run, present in the engine
     * @throws org.opentest4j.TestAbortedException (or IllegalStateException when required) naming
     *         the image and the command that builds it, when it is not there
     */
    public String image() {
        String cached = RESOLVED.get(this);
        if (cached != null) {
            return cached;
        }
        String override = System.getProperty(property, System.getenv(env));
        String ref;
        if (override != null && !override.isBlank()) {
            ref = override.trim();
            if (!present(ref)) {
                ContainerAvailability.unavailable("image " + ref + " (named by " + property + " / " + env + ") is not in the Docker engine");
            }
        } else {
            if (buildOnDemand) {
                try {
                    runBuildScript(target);
                } catch (IllegalStateException e) {
                    ContainerAvailability.unavailable("building the " + target + " image failed: " + e.getMessage());
                }
            }
            ref = runBuildScript("--print-tag", target).strip();
            if (!present(ref)) {
                ContainerAvailability.unavailable("image " + ref + " is not built: run docker/build.sh"
                        + baseArgument() + " " + target + (this == SPDK ? " (about 6 minutes)" : ""));
            }
        }
        LOG.info("{} image: {}", target, ref);
        RESOLVED.put(this, ref);
        return ref;
    }

    private static String baseArgument() {
        String base = System.getenv("JVIRTIO_DOCKER_BASE");
        return base == null ? "" : " --base " + base;
    }

    private static boolean present(String ref) {
        try {
            DockerClientFactory.instance().client().inspectImageCmd(ref).exec();
            return true;
        } catch (NotFoundException e) {
            return false;
        }
    }

    /** @return the checkout's docker/ directory, found upwards from the working directory */
    public static Path dockerDirectory() {
        Path p = Path.of("").toAbsolutePath();
        for (; p != null; p = p.getParent()) {
            if (Files.isExecutable(p.resolve("docker/build.sh"))) {
                return p.resolve("docker");
            }
        }
        throw new IllegalStateException("docker/build.sh not found above " + Path.of("").toAbsolutePath());
    }

    private static String runBuildScript(String... args) {
        Path dir = dockerDirectory();
        List<String> cmd = new ArrayList<>();
        cmd.add(dir.resolve("build.sh").toString());
        cmd.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(cmd).directory(dir.getParent().toFile()).redirectErrorStream(true).start();
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(BUILD_SCRIPT_TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IllegalStateException(String.join(" ", cmd) + " did not finish in " + BUILD_SCRIPT_TIMEOUT_MINUTES + " minutes");
            }
            String text = new String(out, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", cmd) + " exited with " + p.exitValue() + ":\n" + text);
            }
            if (!text.isBlank() && !args[0].equals("--print-tag")) {
                LOG.info("{}", text.strip());
            }
            return text;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + String.join(" ", cmd), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted running " + String.join(" ", cmd), e);
        }
    }
}
