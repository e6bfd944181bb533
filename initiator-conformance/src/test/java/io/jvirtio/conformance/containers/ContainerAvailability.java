package io.jvirtio.conformance.containers;

import org.opentest4j.TestAbortedException;
import org.slf4j.LoggerFactory;
import org.testcontainers.DockerClientFactory;

/**
 * Whether the container suite can run here. Without a Docker engine (or a target image, or
 * hugepages) its classes are skipped with the reason; with {@code JVIRTIO_REQUIRE_CONTAINERS=1}
 * (as {@code .ci/run} sets) the same reason fails them instead, so CI cannot pass by skipping.
 */
public final class ContainerAvailability {
    /** The environment switch that turns a missing engine, image or hugepage into a failure. */
    public static final String REQUIRE_ENV = "JVIRTIO_REQUIRE_CONTAINERS";

    private static volatile Boolean engine;

    private ContainerAvailability() {
    }

    /** @return true when {@link #REQUIRE_ENV} is 1 or true */
    public static boolean required() {
        String v = System.getenv(REQUIRE_ENV);
        return "1".equals(v) || "true".equalsIgnoreCase(v);
    }

    /** Skips (or, when required, fails) the calling test class unless a Docker engine answers. */
    public static void assumeEngine() {
        Boolean ok = engine;
        if (ok == null) {
            ok = DockerClientFactory.instance().isDockerAvailable();
            engine = ok;
        }
        if (!ok) {
            unavailable("no Docker engine answers (DOCKER_HOST=" + System.getenv("DOCKER_HOST")
                    + "; start dockerd, see docker/README.md)");
        }
    }

    /**
     * Says that the container suite cannot run, and why.
     *
     * @throws TestAbortedException normally (the class is skipped with {@code why})
     * @throws IllegalStateException when {@link #REQUIRE_ENV} is set
     */
    public static void unavailable(String why) {
        if (required()) {
            throw new IllegalStateException(why + " (" + REQUIRE_ENV + "=1 makes this a failure)");
        }
        LoggerFactory.getLogger(ContainerAvailability.class).warn("container suite skipped: {}", why);
        throw new TestAbortedException("container suite skipped: " + why);
    }
}
