package io.jvirtio.testkit.guest;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/**
 * The initramfs of a {@link LinuxGuest}: a base part that does not change between runs (busybox,
 * the modules, {@code /init}, the helpers), built once per JVM and cached, followed by a small
 * per-run part (the run id, the devices, the shares, the environment, the script). The kernel
 * unpacks concatenated gzip'd cpio archives in order, so the per-run part is simply appended.
 */
final class GuestInitramfs {
    private static final System.Logger LOG = System.getLogger(GuestInitramfs.class.getName());
    private static final Map<String, Path> BASE = new HashMap<>();
    private static volatile Path baseDir;

    private final Path busybox;
    private final GuestKernel kernel;
    private final GuestKernel.ModulePlan plan;
    private final Map<String, String> moduleParams;

    /**
     * @param busybox      the static busybox
     * @param kernel       the kernel whose modules are packed
     * @param plan         the modules, in insmod order
     * @param moduleParams insmod parameters by normalized module name
     */
    GuestInitramfs(Path busybox, GuestKernel kernel, GuestKernel.ModulePlan plan, Map<String, String> moduleParams) {
        this.busybox = busybox;
        this.kernel = kernel;
        this.plan = plan;
        this.moduleParams = moduleParams;
    }

    /** The per-run files, each already in the format {@code /init} reads (see the resource {@code init}). */
    record RunFiles(String runId, String devices, String shares, String environment, String script) {
    }

    /** Writes the base part (cached) followed by the per-run part to {@code initrd}. */
    void write(Path initrd, RunFiles run) throws IOException {
        Path base = base();
        try (OutputStream out = Files.newOutputStream(initrd)) {
            Files.copy(base, out);
            GZIPOutputStream gz = new GZIPOutputStream(out, 8192);
            CpioWriter cpio = new CpioWriter(gz);
            cpio.directory("etc", 0755);
            cpio.directory("etc/jvirtio", 0755);
            cpio.directory("jvirtio", 0755);
            cpio.file("etc/jvirtio/run", 0644, utf8("RUN_ID=" + run.runId() + "\n"));
            cpio.file("etc/jvirtio/devices", 0644, utf8(run.devices()));
            cpio.file("etc/jvirtio/shares", 0644, utf8(run.shares()));
            cpio.file("etc/jvirtio/env", 0644, utf8(run.environment()));
            cpio.file("jvirtio/test.sh", 0755, utf8(run.script()));
            cpio.finish();
            gz.finish();
        }
    }

    /** Deletes the cache of base parts (at JVM exit). */
    static void deleteCache() {
        Path dir = baseDir;
        if (dir != null) {
            LinuxGuest.deleteTree(dir);
        }
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** The part that does not change between runs: busybox, modules, init. Built once per JVM and key. */
    private Path base() throws IOException {
        StringBuilder modulesFile = new StringBuilder();
        for (GuestKernel.ModulePlan.Module m : plan.load()) {
            modulesFile.append(fileName(m));
            String params = moduleParams.get(m.name());
            if (params != null && !params.isBlank()) {
                modulesFile.append(' ').append(params.strip());
            }
            modulesFile.append('\n');
        }
        String key = kernel.root() + "|" + kernel.version() + "|" + busybox + "|" + Files.getLastModifiedTime(busybox) + "|" + modulesFile;
        synchronized (BASE) {
            Path cached = BASE.get(key);
            if (cached != null && Files.exists(cached)) {
                return cached;
            }
            if (baseDir == null) {
                baseDir = Files.createTempDirectory("jvirtio-guest-initramfs-");
            }
            Path out = Files.createTempFile(baseDir, "base-", ".cpio.gz");
            long t0 = System.nanoTime();
            try (OutputStream fo = Files.newOutputStream(out); GZIPOutputStream gz = new GZIPOutputStream(fo, 1 << 16)) {
                CpioWriter cpio = new CpioWriter(gz);
                for (String d : List.of("bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys", "tmp", "run", "mnt", "root",
                        "etc", "etc/jvirtio", "lib", "lib/modules", "lib/jvirtio", "jvirtio")) {
                    cpio.directory(d, d.equals("tmp") ? 01777 : 0755);
                }
                // The kernel opens /dev/console before running /init; devtmpfs is mounted later.
                cpio.charDevice("dev/console", 0600, 5, 1);
                cpio.charDevice("dev/null", 0666, 1, 3);
                cpio.file("bin/busybox", 0755, busybox);
                cpio.symlink("bin/sh", "busybox");
                cpio.file("init", 0755, resource("init"));
                cpio.file("lib/jvirtio/functions.sh", 0644, resource("functions.sh"));
                cpio.file("lib/jvirtio/run-script", 0644, resource("run-script"));
                for (GuestKernel.ModulePlan.Module m : plan.load()) {
                    cpio.file("lib/modules/" + fileName(m), 0644, m.file());
                }
                cpio.file("etc/jvirtio/modules", 0644, utf8(modulesFile.toString()));
                cpio.finish();
            }
            LOG.log(Level.DEBUG, "built guest initramfs {0} ({1} bytes, {2} modules) in {3} ms", out, Files.size(out), plan.load().size(),
                    (System.nanoTime() - t0) / 1_000_000);
            BASE.put(key, out);
            return out;
        }
    }

    /** {@code NAME.ko[.xz]}: the module's name with its file's extension. */
    private static String fileName(GuestKernel.ModulePlan.Module m) {
        String f = m.file().getFileName().toString();
        return m.name() + f.substring(f.indexOf(".ko"));
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = GuestInitramfs.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("resource io/jvirtio/testkit/guest/" + name + " missing from the testkit-guest jar");
            }
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            in.transferTo(b);
            return b.toByteArray();
        }
    }
}
