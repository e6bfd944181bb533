package io.jvirtio.config;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * SPDK's own {@code scripts/rpc.py} (with its {@code python/spdk} package), run as a subprocess.
 * Where it comes from, first found: the SPDK source bundle, as {@code docker/build.sh} finds it
 * ({@code $SPDK_BUNDLE}, {@code ../shared/third_party/spdk-v26.01.tar.xz} beside the checkout,
 * {@code /work/shared/third_party/spdk-v26.01.tar.xz}), of which only {@code scripts/rpc.py} and
 * {@code python/} are extracted into {@code target/spdk-rpc-py/} (once per bundle; never into the
 * source tree); else the built SPDK image {@code jvirtio/spdk:latest}, whose {@code /opt/spdk}
 * holds the same two (copied out with {@code docker cp}). rpc.py needs {@code python3} with its
 * full standard library (Debian's {@code python3}, not {@code python3-minimal}).
 *
 * {@code JVIRTIO_RPCPY_FROM=image} skips the bundle.
 *
 * <p>Without python3 or rpc.py the calling test is skipped with the reason, or fails when
 * {@code JVIRTIO_REQUIRE_RPCPY=1} or {@code JVIRTIO_REQUIRE_CONTAINERS=1} (CI, {@code .ci/run}).
 * Public, in json-config's test-jar, for tools' {@code jvirtio serve} tests.
 */
public final class SpdkRpcPy {
    /** Makes a missing rpc.py or python3 a failure instead of a skip. */
    static final String REQUIRE_ENV = "JVIRTIO_REQUIRE_RPCPY";
    static final String BUNDLE_NAME = "spdk-v26.01.tar.xz";
    static final String BUNDLE_DIR = "spdk-v26.01";
    static final String IMAGE = "jvirtio/spdk:latest";
    private static final long TIMEOUT_SECONDS = 60;

    /** What one rpc.py run printed. */
    public record Result(int exitCode, String stdout, String stderr) {
        @Override
        public String toString() {
            return "exit " + exitCode + "\nstdout:\n" + stdout + "\nstderr:\n" + stderr;
        }
    }

    /** Debian's python3 when present (a pyenv shim on the PATH costs a second per run under load), else the PATH's. */
    private static final String PYTHON = Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";

    private final Path rpcPy;

    private SpdkRpcPy(Path rpcPy) {
        this.rpcPy = rpcPy;
    }

    /** @return rpc.py ready to run, or skips / fails the calling test */
    public static SpdkRpcPy assumeAvailable() {
        List<String> missing = new ArrayList<>();
        if (!pythonWorks()) {
            missing.add("python3 with its standard library (json, ctypes, shlex, argparse): apt-get install python3");
        }
        Optional<Path> rpc = Optional.empty();
        try {
            rpc = locate();
        } catch (IOException e) {
            missing.add("rpc.py: " + e.getMessage());
        }
        if (rpc.isEmpty() && missing.stream().noneMatch(m -> m.startsWith("rpc.py"))) {
            missing.add("SPDK's rpc.py: the SPDK source bundle " + BUNDLE_NAME + " (set SPDK_BUNDLE, or put it in ../shared/third_party/ beside the checkout)"
                    + " or the image " + IMAGE + " (docker/build.sh spdk)");
        }
        if (missing.isEmpty()) {
            return new SpdkRpcPy(rpc.get());
        }
        String msg = "SPDK's rpc.py cannot run: missing " + String.join("; ", missing);
        if ("1".equals(System.getenv(REQUIRE_ENV)) || "1".equals(System.getenv("JVIRTIO_REQUIRE_CONTAINERS"))) {
            return Assertions.fail(msg + "; failing because " + REQUIRE_ENV + "=1 or JVIRTIO_REQUIRE_CONTAINERS=1");
        }
        Assumptions.abort(msg + "; test skipped (set " + REQUIRE_ENV + "=1 to fail instead)");
        throw new AssertionError("unreachable");
    }

    /** @return the rpc.py path */
    public Path path() {
        return rpcPy;
    }

    /** Runs {@code python3 rpc.py -s SOCKET ARGS...}. */
    public Result run(Path socket, String... args) {
        List<String> cmd = new ArrayList<>(List.of(PYTHON, rpcPy.toString(), "-s", socket.toString()));
        cmd.addAll(List.of(args));
        return exec(cmd);
    }

    private static boolean pythonWorks() {
        try {
            return exec(List.of(PYTHON, "-c", "import json, ctypes, shlex, argparse, socket")).exitCode() == 0;
        } catch (UncheckedIOException e) {
            return false; // no python3 on the PATH
        }
    }

    /** @return rpc.py from the bundle or the image, extracted into target/ */
    private static Optional<Path> locate() throws IOException {
        Path repo = repoRoot();
        Path cache = repo.resolve("json-config/target/spdk-rpc-py");
        // JVIRTIO_RPCPY_FROM=image: take rpc.py from the image even when a bundle is there (to test that path)
        Optional<Path> bundle = "image".equals(System.getenv("JVIRTIO_RPCPY_FROM")) ? Optional.empty() : bundle(repo);
        if (bundle.isPresent()) {
            Path b = bundle.get();
            String stamp = b.toAbsolutePath() + " " + Files.size(b) + " " + Files.getLastModifiedTime(b).toMillis();
            Path dir = cache.resolve("bundle");
            Path rpc = dir.resolve(BUNDLE_DIR).resolve("scripts/rpc.py");
            Path stampFile = dir.resolve("stamp");
            if (!(Files.isRegularFile(rpc) && Files.exists(stampFile) && Files.readString(stampFile).equals(stamp))) {
                fresh(dir);
                Result r = exec(List.of("tar", "-xJf", b.toString(), "-C", dir.toString(),
                        BUNDLE_DIR + "/scripts/rpc.py", BUNDLE_DIR + "/python"));
                if (r.exitCode() != 0 || !Files.isRegularFile(rpc)) {
                    throw new IOException("extracting scripts/rpc.py and python/ from " + b + " failed (tar and xz-utils installed?): " + r);
                }
                Files.writeString(stampFile, stamp);
            }
            return Optional.of(rpc);
        }
        return fromImage(cache.resolve("image"));
    }

    private static Optional<Path> fromImage(Path dir) throws IOException {
        Result inspect;
        try {
            inspect = exec(List.of("docker", "image", "inspect", "-f", "{{.Id}}", IMAGE));
        } catch (UncheckedIOException e) {
            return Optional.empty(); // no docker
        }
        if (inspect.exitCode() != 0) {
            return Optional.empty();
        }
        String id = inspect.stdout().strip();
        Path rpc = dir.resolve("scripts/rpc.py");
        Path stampFile = dir.resolve("stamp");
        if (Files.isRegularFile(rpc) && Files.exists(stampFile) && Files.readString(stampFile).equals(id)) {
            return Optional.of(rpc);
        }
        fresh(dir);
        Result created = exec(List.of("docker", "create", IMAGE));
        if (created.exitCode() != 0) {
            throw new IOException("docker create " + IMAGE + " failed: " + created);
        }
        String container = created.stdout().strip();
        try {
            for (String part : List.of("scripts", "python")) {
                Result cp = exec(List.of("docker", "cp", container + ":/opt/spdk/" + part, dir.toString()));
                if (cp.exitCode() != 0) {
                    throw new IOException("docker cp " + IMAGE + ":/opt/spdk/" + part + " failed: " + cp);
                }
            }
        } finally {
            exec(List.of("docker", "rm", container));
        }
        Files.writeString(stampFile, id);
        return Optional.of(rpc);
    }

    private static Optional<Path> bundle(Path repo) {
        List<Path> candidates = new ArrayList<>();
        String env = System.getenv("SPDK_BUNDLE");
        if (env != null && !env.isEmpty()) {
            candidates.add(Path.of(env));
        }
        candidates.add(repo.resolve("../shared/third_party").resolve(BUNDLE_NAME).normalize());
        candidates.add(Path.of("/work/shared/third_party").resolve(BUNDLE_NAME));
        return candidates.stream().filter(Files::isRegularFile).findFirst();
    }

    /** @return the checkout: the directory above the module that holds {@code mvnw} */
    private static Path repoRoot() {
        Path p = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        for (Path q = p; q != null; q = q.getParent()) {
            if (Files.exists(q.resolve("mvnw")) && Files.isDirectory(q.resolve("json-config"))) {
                return q;
            }
        }
        throw new IllegalStateException("no jvirtio checkout (mvnw, json-config/) at or above " + p);
    }

    private static void fresh(Path dir) throws IOException {
        if (Files.exists(dir)) {
            try (var walk = Files.walk(dir)) {
                for (Path p : walk.sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList()) {
                    Files.delete(p);
                }
            }
        }
        Files.createDirectories(dir);
    }

    private static Result exec(List<String> cmd) {
        try {
            Path out = Files.createTempFile("rpcpy", ".out");
            Path err = Files.createTempFile("rpcpy", ".err");
            try {
                ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile())
                        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
                pb.environment().put("PYTHONDONTWRITEBYTECODE", "1");
                Process p = pb.start();
                if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    p.waitFor();
                    throw new AssertionError(String.join(" ", cmd) + " did not end within " + TIMEOUT_SECONDS + " s");
                }
                return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
            } finally {
                Files.deleteIfExists(out);
                Files.deleteIfExists(err);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted running " + cmd, e);
        }
    }
}
