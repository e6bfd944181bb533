package io.jvirtio.backend;

import io.jvirtio.spec.vhostuser.SocketInUseException;

import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.backend.testing.Handshake;
import io.jvirtio.backend.testing.ScriptedFrontEnd;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Server mode owns only the socket it created: a live listener is never taken over, a stale
 * socket is, and close removes the path only while it still holds this device's socket.
 */
class SocketOwnershipTest {
    private static VhostUserTarget.Builder device(String name, Path sock) {
        return VhostUserTarget.builder().name(name).socket(sock).blk(new RamBlockStore(1 << 20, false), BlkModelOptions.defaults());
    }

    private static Object fileKey(Path p) throws IOException {
        return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
    }

    /** A vhost-user handshake and GET_QUEUE_NUM answered: the device behind {@code sock} serves. */
    private static void assertServes(Path sock) throws IOException {
        try (ScriptedFrontEnd fe = ScriptedFrontEnd.connect(sock)) {
            Handshake.open(fe);
            assertEquals(1, fe.callU64(VhostUserRequest.GET_QUEUE_NUM));
        }
    }

    @Test
    void aLiveListenerIsRefusedAndKeepsItsSocket(@TempDir Path d) throws Exception {
        Path sock = d.resolve("t.sock");
        try (VhostUserTarget first = device("first", sock).start()) {
            Object key = fileKey(sock);
            AtomicBoolean secondClosed = new AtomicBoolean();
            UncheckedIOException e = assertThrows(UncheckedIOException.class,
                    () -> device("second", sock).closeOnExit(() -> secondClosed.set(true)).start());
            assertInstanceOf(SocketInUseException.class, e.getCause());
            assertEquals(sock, ((SocketInUseException) e.getCause()).path());
            assertTrue(e.getMessage().contains("socket " + sock + " is served by a live listener; refusing to take it over"), e.getMessage());
            assertTrue(e.getMessage().startsWith("device second: "), e.getMessage());
            assertTrue(secondClosed.get(), "the refused device closed what it was given");

            assertEquals(key, fileKey(sock), "the first device's socket file is untouched");
            assertServes(first.socketPath());
        }
        assertFalse(Files.exists(sock), "the first device removes its own socket on close");
    }

    @Test
    void aStaleSocketFileIsTakenOver(@TempDir Path d) throws Exception {
        Path sock = d.resolve("stale.sock");
        // what a killed target leaves behind: the file of a socket nobody listens on any more
        try (AFUNIXServerSocket dead = AFUNIXServerSocket.newInstance()) {
            dead.setDeleteOnClose(false);
            dead.bind(AFUNIXSocketAddress.of(sock));
        }
        assertTrue(Files.exists(sock, LinkOption.NOFOLLOW_LINKS));
        try (VhostUserTarget t = device("taker", sock).start()) {
            assertServes(t.socketPath());
        }
        assertFalse(Files.exists(sock, LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void aPathThatIsNotASocketIsRefusedAndLeftAlone(@TempDir Path d) throws Exception {
        Path file = d.resolve("notes.txt");
        Files.writeString(file, "keep me");
        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> device("x", file).start());
        assertInstanceOf(SocketInUseException.class, e.getCause());
        assertTrue(e.getMessage().contains(file + " exists and is not a socket; refusing to replace it"), e.getMessage());
        assertEquals("keep me", Files.readString(file));
    }

    @Test
    void closeLeavesAReplacedSocketPathAlone(@TempDir Path d) throws Exception {
        Path sock = d.resolve("r.sock");
        // a regular file put in its place
        VhostUserTarget t = device("replaced-by-file", sock).start();
        Path other = d.resolve("other.txt");
        Files.writeString(other, "not yours");
        Files.move(other, sock, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        t.close();
        assertEquals("not yours", Files.readString(sock));
        Files.delete(sock);

        // another listener's socket put in its place (what a takeover of the path leaves)
        VhostUserTarget u = device("replaced-by-socket", sock).start();
        Path tmp = d.resolve("new.sock");
        try (AFUNIXServerSocket newcomer = AFUNIXServerSocket.newInstance()) {
            newcomer.setDeleteOnClose(false);
            newcomer.bind(AFUNIXSocketAddress.of(tmp));
            Files.move(tmp, sock, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            Object key = fileKey(sock);
            u.close();
            assertEquals(key, fileKey(sock), "the newcomer's socket file is still there");
            // connecting is enough: accepting would trip junixsocket's own check that the socket was
            // bound under another name (new.sock, renamed away)
            try (AFUNIXSocket c = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(sock))) {
                assertTrue(c.isConnected(), "the newcomer still gets connections");
            }
        }
    }

    @Test
    void twoDevicesOnOnePathInOneServerLeaveTheFirstRunning(@TempDir Path d) throws Exception {
        Path sock = d.resolve("dup.sock");
        try (TargetServer server = new TargetServer()) {
            VhostUserTarget a = server.start(device("a", sock));
            UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> server.start(device("b", sock)));
            assertTrue(e.getMessage().contains(sock.toString()), e.getMessage());
            assertEquals(1, server.targets().size());
            assertServes(a.socketPath());
        }
        assertFalse(Files.exists(sock));
    }
}
