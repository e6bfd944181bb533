package io.jvirtio.core.vhostuser;

import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.spec.vhostuser.VhostUserException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Server mode owns its socket path as the Java target does: a live socket is refused, a stale one replaced, only its own removed. */
class ServerModeSocketTest {
    private static final VhostUserOptions SERVER = VhostUserOptions.builder().server(true, Duration.ofMillis(200)).build();

    @TempDir
    Path dir;

    @Test
    void aLiveSocketIsRefusedAndKeepsServing() throws Exception {
        Path sock = dir.resolve("live.sock");
        try (AFUNIXServerSocket live = AFUNIXServerSocket.newInstance();
             MemoryDomain memory = MemoryDomain.create("srv", 4 << 20, HugePagePolicy.NEVER)) {
            live.setDeleteOnClose(false);
            live.bind(AFUNIXSocketAddress.of(sock));
            VhostUserException e = assertThrows(VhostUserException.class, () -> VhostUserFrontend.connect(sock, memory, SERVER));
            assertTrue(e.getMessage().contains("socket " + sock + " is served by a live listener; refusing to take it over"), e.getMessage());
            assertTrue(Files.exists(sock), "the live socket file stays");
            try (AFUNIXSocket c = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(sock))) {
                assertTrue(c.isConnected(), "the live listener still gets its clients");
            }
        }
    }

    @Test
    void aStaleSocketIsReplacedAndOnlyItsOwnFileRemoved() throws Exception {
        Path sock = dir.resolve("stale.sock");
        try (AFUNIXServerSocket dead = AFUNIXServerSocket.newInstance()) {
            dead.setDeleteOnClose(false);
            dead.bind(AFUNIXSocketAddress.of(sock));
        }
        assertTrue(Files.exists(sock), "a stale socket file is left behind");
        try (MemoryDomain memory = MemoryDomain.create("srv", 4 << 20, HugePagePolicy.NEVER)) {
            // it binds (no back-end comes within the accept timeout), then removes the file it made
            VhostUserException e = assertThrows(VhostUserException.class, () -> VhostUserFrontend.connect(sock, memory, SERVER));
            assertTrue(e.getMessage().contains("no vhost-user back-end connected to " + sock), e.getMessage());
            assertFalse(Files.exists(sock), "its own socket file is removed when the attach fails");
        }
        Path file = dir.resolve("plain");
        Files.writeString(file, "data");
        try (MemoryDomain memory = MemoryDomain.create("srv", 4 << 20, HugePagePolicy.NEVER)) {
            VhostUserException e = assertThrows(VhostUserException.class, () -> VhostUserFrontend.connect(file, memory, SERVER));
            assertTrue(e.getMessage().contains(file + " exists and is not a socket; refusing to replace it"), e.getMessage());
            assertTrue(Files.exists(file), "a regular file is left alone");
        }
    }
}
