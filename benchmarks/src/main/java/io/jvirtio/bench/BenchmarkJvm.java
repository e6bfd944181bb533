package io.jvirtio.bench;

/**
 * The JVM options every benchmark fork gets (in each class's {@code @Fork}): those of the project's
 * runnable jars ({@code ./jvirtio}: native access for FFM, the parallel collector) and warnings-only
 * logging, so a device's attach line does not land in the middle of an iteration's output.
 */
final class BenchmarkJvm {
    static final String NATIVE_ACCESS = "--enable-native-access=ALL-UNNAMED";
    static final String GC = "-XX:+UseParallelGC";
    static final String QUIET = "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn";
    /** JMH 1.37 uses sun.misc.Unsafe, which JDK 24+ warns about on first use. */
    static final String UNSAFE = "--sun-misc-unsafe-memory-access=allow";

    private BenchmarkJvm() {
    }
}
