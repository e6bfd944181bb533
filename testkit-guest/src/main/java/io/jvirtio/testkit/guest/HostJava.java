package io.jvirtio.testkit.guest;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.jar.JarFile;
import java.util.jar.Manifest;

/**
 * The host's JDK and class path, run inside the guest by the script helper {@code host_java}
 * ({@link LinuxGuest.Builder#hostJava(HostJava)}): the host's {@code /} is shared read-only over 9p
 * at {@link #GUEST_ROOT} and {@code host_java} {@code chroot}s into it, so {@code java.home}, the
 * build's {@code target/} directories and the local Maven repository have the same paths as on the
 * host and nothing is copied, wherever the checkout is (CI may clone under {@code /tmp}). Inside the
 * chroot {@code /proc}, {@code /sys}, {@code /dev} are the guest's and {@link #GUEST_TMP} is an empty
 * tmpfs, the guest JVM's {@code java.io.tmpdir} (the share is read-only).
 *
 * <p>Under TCG a JVM costs about 10 s before {@code main} does real work (FFM bootstrap), so a test
 * should start one JVM per guest and run all its cases in it.
 *
 * @param java       the {@code java} binary (an absolute host path)
 * @param classPath  the class path entries (absolute host paths)
 * @param jvmOptions options before the class path
 */
public record HostJava(Path java, List<Path> classPath, List<String> jvmOptions) {
    /** Environment variable with the {@code java} binary. */
    public static final String JAVA_ENV = "JVIRTIO_JAVA";
    /** Environment variable with the class path. */
    public static final String CLASSPATH_ENV = "JVIRTIO_CLASSPATH";
    /** Environment variable with the JVM options (split on spaces by the shell). */
    public static final String OPTIONS_ENV = "JVIRTIO_JAVA_OPTS";
    /** Environment variable with where the host's {@code /} is mounted in the guest. */
    public static final String ROOT_ENV = "JVIRTIO_HOST_ROOT";
    /** Where the host's {@code /} is mounted in the guest. */
    public static final String GUEST_ROOT = "/mnt/host";
    /** The writable tmpfs inside the chroot ({@code java.io.tmpdir} of the guest JVM); shadows the host's {@code /run} there. */
    public static final String GUEST_TMP = "/run";
    /** The 9p tag of that share. */
    public static final String SHARE_TAG = "hostroot";
    /**
     * Options that start fastest under TCG (measured: vfio-plan §5.5): serial GC, C1 only, a small
     * heap, no perf data file, native access for FFM; temporary files on {@link #GUEST_TMP}.
     */
    public static final List<String> TCG_OPTIONS = List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx256m",
            "-XX:-UsePerfData", "--enable-native-access=ALL-UNNAMED", "-Djava.io.tmpdir=" + GUEST_TMP);

    /** @throws IllegalArgumentException when a path is relative or under {@link #GUEST_TMP} (shadowed there), or an option holds a space */
    public HostJava {
        Objects.requireNonNull(java, "java");
        classPath = List.copyOf(classPath);
        jvmOptions = List.copyOf(jvmOptions);
        List<Path> bad = new ArrayList<>();
        for (Path p : concat(java, classPath)) {
            if (!p.isAbsolute() || p.normalize().startsWith(GUEST_TMP)) {
                bad.add(p);
            }
        }
        if (!bad.isEmpty()) {
            throw new IllegalArgumentException("paths the guest cannot see through the chroot (relative, or under " + GUEST_TMP
                    + ", which is a tmpfs there): " + bad);
        }
        for (String o : jvmOptions) {
            if (o.isEmpty() || o.chars().anyMatch(Character::isWhitespace)) {
                throw new IllegalArgumentException("JVM option '" + o + "' must be non-empty and without white space");
            }
        }
    }

    private static List<Path> concat(Path first, List<Path> rest) {
        List<Path> all = new ArrayList<>(rest.size() + 1);
        all.add(first);
        all.addAll(rest);
        return all;
    }

    /**
     * @return this JVM's {@code java} and class path with {@link #TCG_OPTIONS}: what a test running
     *         under Maven (surefire) hands to the guest to run its own test classes there
     */
    public static HostJava current() {
        return new HostJava(Path.of(System.getProperty("java.home"), "bin", "java"), currentClassPath(), TCG_OPTIONS);
    }

    /** @return these settings with more JVM options appended ({@code -Dkey=value}) */
    public HostJava withOptions(String... more) {
        List<String> all = new ArrayList<>(jvmOptions);
        all.addAll(List.of(more));
        return new HostJava(java, classPath, all);
    }

    /**
     * This JVM's class path, with a manifest-only jar (surefire's {@code surefirebooter*.jar}, a
     * temporary file) replaced by the entries of its {@code Class-Path}.
     *
     * @return absolute paths, in order
     */
    public static List<Path> currentClassPath() {
        List<Path> out = new ArrayList<>();
        for (String e : System.getProperty("java.class.path", "").split(File.pathSeparator)) {
            if (e.isEmpty()) {
                continue;
            }
            Path p = Path.of(e).toAbsolutePath();
            List<Path> expanded = manifestClassPath(p);
            out.addAll(expanded.isEmpty() ? List.of(p) : expanded);
        }
        return out;
    }

    /** @return the {@code Class-Path} entries of a jar whose manifest names one, else empty */
    private static List<Path> manifestClassPath(Path jar) {
        if (!jar.toString().endsWith(".jar") || !Files.isRegularFile(jar)) {
            return List.of();
        }
        try (JarFile f = new JarFile(jar.toFile())) {
            Manifest m = f.getManifest();
            String cp = m == null ? null : m.getMainAttributes().getValue("Class-Path");
            if (cp == null || cp.isBlank()) {
                return List.of();
            }
            List<Path> out = new ArrayList<>();
            for (String u : cp.trim().split(" +")) {
                URI uri = jar.toUri().resolve(u);
                out.add(Path.of(uri));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the manifest of " + jar, e);
        }
    }

    /** @return the variables {@code host_java} reads */
    public Map<String, String> environment() {
        Map<String, String> env = new LinkedHashMap<>();
        env.put(JAVA_ENV, java.toString());
        env.put(CLASSPATH_ENV, String.join(File.pathSeparator, classPath.stream().map(Path::toString).toList()));
        env.put(OPTIONS_ENV, String.join(" ", jvmOptions));
        env.put(ROOT_ENV, GUEST_ROOT);
        return env;
    }
}
