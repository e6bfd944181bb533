package io.jvirtio.core.testing;

import io.jvirtio.testkit.QemuStorageDaemon;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The qemu-storage-daemon fixture itself: skip/fail policy, start, start failure, close. */
class QemuStorageDaemonTest {
    @TempDir
    Path dir;

    @Test
    void missingBinarySkipsWithTheBinaryAndThePackage() {
        TestAbortedException e = assertThrows(TestAbortedException.class,
                () -> QsdAvailability.checkAvailable(Optional.empty(), null));
        assertTrue(e.getMessage().contains("qemu-storage-daemon") && e.getMessage().contains("qemu-system-common")
                && e.getMessage().contains("JVIRTIO_REQUIRE_QSD=1"), e.getMessage());
        assertThrows(TestAbortedException.class, () -> QsdAvailability.checkAvailable(Optional.empty(), "0"));
    }

    @Test
    void missingBinaryFailsWhenRequired() {
        AssertionFailedError e = assertThrows(AssertionFailedError.class,
                () -> QsdAvailability.checkAvailable(Optional.empty(), "1"));
        assertTrue(e.getMessage().contains("qemu-system-common") && e.getMessage().contains("JVIRTIO_REQUIRE_QSD=1"), e.getMessage());
    }

    @Test
    void presentBinaryIsReturned() {
        Path p = Path.of("/bin/true");
        assertEquals(p, QsdAvailability.checkAvailable(Optional.of(p), "1"));
    }

    @Test
    void startsListensAndCleansUp() throws Exception {
        QsdAvailability.assumeAvailable();
        QemuStorageDaemon qsd = QemuStorageDaemon.nullCo(1L << 30).numQueues(4).start();
        Path socket = qsd.socketPath();
        long pid = qsd.pid();
        try {
            assertTrue(QemuStorageDaemon.isListening(socket));
            assertTrue(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));
            assertEquals(4, qsd.numQueues());
        } finally {
            qsd.close();
        }
        qsd.close();
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "killed and reaped");
        assertFalse(Files.exists(socket.getParent()), "temporary directory deleted");
    }

    @Test
    void startFailureCarriesTheDaemonsStderr() {
        QsdAvailability.assumeAvailable();
        Path missing = dir.resolve("no-such-image.img");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> QemuStorageDaemon.file(missing).start());
        String m = e.getMessage();
        assertTrue(m.contains("exited with code") && m.contains(missing.toString()) && m.contains("No such file"), m);
    }

    @Test
    void imagePathWithCommaIsEscaped() throws Exception {
        QsdAvailability.assumeAvailable();
        Path image = dir.resolve("a,b.img");
        try (var f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(1 << 20);
        }
        try (QemuStorageDaemon qsd = QemuStorageDaemon.file(image).writable(false).start()) {
            assertTrue(qsd.isAlive(), qsd::output);
        }
    }
}
