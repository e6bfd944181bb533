package io.jvirtio.tools;

import io.jvirtio.testkit.QemuStorageDaemon;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Makes sure qemu-storage-daemon is there for the demo: installs Debian's package when running as
 * root with apt-get, otherwise says exactly what to install.
 */
final class QsdInstaller {
    private QsdInstaller() {
    }

    static void ensureInstalled(PrintStream out) {
        if (QemuStorageDaemon.findBinary().isPresent()) {
            return;
        }
        boolean root = "root".equals(System.getProperty("user.name"));
        if (!root || !Files.isExecutable(Path.of("/usr/bin/apt-get"))) {
            throw new IllegalStateException(QemuStorageDaemon.notFoundMessage() + ", then run the demo again");
        }
        out.println("qemu-storage-daemon is missing: installing the Debian package " + QemuStorageDaemon.DEBIAN_PACKAGE + " ...");
        run(out, "apt-get", "update", "-q");
        run(out, "apt-get", "install", "-y", "-q", "--no-install-recommends", QemuStorageDaemon.DEBIAN_PACKAGE);
        if (QemuStorageDaemon.findBinary().isEmpty()) {
            throw new IllegalStateException("installed " + QemuStorageDaemon.DEBIAN_PACKAGE + " but " + QemuStorageDaemon.notFoundMessage());
        }
    }

    private static void run(PrintStream out, String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getOutputStream().close();
            try (var in = p.getInputStream()) {
                in.transferTo(out);
            }
            int rc = p.waitFor();
            if (rc != 0) {
                throw new IllegalStateException(String.join(" ", cmd) + " exited with " + rc);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + String.join(" ", cmd) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + String.join(" ", cmd), e);
        }
    }
}
