package io.jvirtio.core.testing;

import io.jvirtio.testkit.QemuStorageDaemon;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Whether tests that need qemu-storage-daemon run: without the binary they are skipped with a
 * message naming it and the Debian package, or fail when {@code JVIRTIO_REQUIRE_QSD=1} (CI).
 */
public final class QsdAvailability {
    private QsdAvailability() {
    }

    /** @return the binary, or skips / fails the calling test */
    public static Path assumeAvailable() {
        return checkAvailable(QemuStorageDaemon.findBinary(), System.getenv(QemuStorageDaemon.REQUIRE_ENV));
    }

    /**
     * The decision of {@link #assumeAvailable()} with its inputs given (testable without touching the environment).
     *
     * @param binary       the binary found, if any
     * @param requireValue the value of {@code JVIRTIO_REQUIRE_QSD}, or null
     * @return the binary
     */
    public static Path checkAvailable(Optional<Path> binary, String requireValue) {
        if (binary.isPresent()) {
            return binary.get();
        }
        String msg = QemuStorageDaemon.notFoundMessage();
        if ("1".equals(requireValue)) {
            return Assertions.fail(msg + "; failing because " + QemuStorageDaemon.REQUIRE_ENV + "=1");
        }
        Assumptions.abort(msg + "; test skipped (set " + QemuStorageDaemon.REQUIRE_ENV + "=1 to fail instead)");
        throw new AssertionError("unreachable");
    }
}
