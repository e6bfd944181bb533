package io.jvirtio.core.vhostuser;

import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.vhostuser.VhostUserConfig;
import io.jvirtio.spec.vhostuser.VhostUserException;
import io.jvirtio.spec.vhostuser.VhostUserHeader;
import io.jvirtio.spec.vhostuser.VhostUserVringState;
import io.jvirtio.sys.LinuxConstants;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static io.jvirtio.core.vhostuser.ScriptedVhostUserBackend.REPLY_FLAGS;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.GET_CONFIG;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.GET_FEATURES;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.GET_QUEUE_NUM;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.GET_VRING_BASE;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.SET_FEATURES;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link VhostUserException#shouldReconnect()} at each kind of failure: the socket itself failing
 * (nothing listens, the peer hung up, no reply in time) says a new connection could help; an answer
 * that is malformed or negative says it could not.
 */
@Timeout(30)
class VhostUserShouldReconnectTest {
    static final Duration SHORT = Duration.ofMillis(300);

    @TempDir
    Path dir;
    ScriptedVhostUserBackend fake;
    MemoryDomain memory;

    @BeforeEach
    void setUp() throws Exception {
        fake = new ScriptedVhostUserBackend(dir.resolve("vhost.sock"));
        memory = MemoryDomain.create("reconnect-test", LinuxConstants.HUGE_PAGE_2M, HugePagePolicy.NEVER);
    }

    @AfterEach
    void tearDown() throws Exception {
        fake.close();
        memory.close();
    }

    private VhostUserException connectFails(Path socket, VhostUserOptions options) {
        return assertThrows(VhostUserException.class, () -> VhostUserFrontend.connect(socket, memory, options));
    }

    private VhostUserException connectFails() {
        return connectFails(fake.socketPath, VhostUserOptions.builder().replyTimeout(SHORT).build());
    }

    // ---------------------------------------------------------------- the socket failed: reconnect

    @Test
    void backEndHangsUpBeforeItsReply() {
        fake.on(GET_FEATURES, (msg, peer) -> peer.close());
        VhostUserException e = connectFails();
        assertTrue(e.getMessage().contains("closed the connection"), e.getMessage());
        assertTrue(e.shouldReconnect(), "EOF: the back-end went away");
    }

    @Test
    void writeToAHungUpBackEnd() throws Exception {
        fake.protocolFeatures = 0; // no REPLY_ACK: SET_FEATURES waits for nothing, the next write meets the hang-up
        fake.on(SET_FEATURES, (msg, peer) -> peer.close());
        VhostUserFrontend b = VhostUserFrontend.connect(fake.socketPath, memory, VhostUserOptions.defaults());
        try {
            b.setFeatures(VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1));
            Thread.sleep(100);
            b.setupQueue(VhostUserFrontendTest.ring(memory, 0));
            VhostUserException e = assertThrows(VhostUserException.class, () -> b.setStatus(VhostUserFrontendTest.RUNNING));
            assertTrue(e.shouldReconnect(), "broken pipe / EOF: " + e.getMessage());
        } finally {
            b.destruct();
        }
    }

    @Test
    void noReplyInTimeAndEverythingAfterIt() {
        fake.on(GET_VRING_BASE, (msg, peer) -> {
            Thread.sleep(600);
            peer.reply(msg, new VhostUserVringState(0, 0));
        });
        VhostUserFrontend b = VhostUserFrontend.connect(fake.socketPath, memory, VhostUserOptions.builder().replyTimeout(SHORT).build());
        try {
            b.setupQueue(VhostUserFrontendTest.ring(memory, 0));
            b.setStatus(VhostUserFrontendTest.RUNNING);
            VhostUserException timeout = assertThrows(VhostUserException.class, () -> b.deleteQueue(0));
            assertTrue(timeout.getMessage().contains("no reply to VHOST_USER_GET_VRING_BASE"), timeout.getMessage());
            assertTrue(timeout.shouldReconnect(), "a late reply may still come on this socket; a new one starts clean");
            VhostUserException next = assertThrows(VhostUserException.class, () -> b.readDevConfig(0, Arena.ofAuto().allocate(8)));
            assertTrue(next.getMessage().contains("broken by an earlier error"), next.getMessage());
            assertTrue(next.shouldReconnect(), "carries the earlier error's answer");
        } finally {
            b.destruct();
        }
    }

    @Test
    void nothingListensYet() throws Exception {
        assertTrue(connectFails(dir.resolve("nobody.sock"), VhostUserOptions.defaults()).shouldReconnect(), "missing socket");
        Path stale = dir.resolve("stale.sock");
        try (AFUNIXServerSocket s = AFUNIXServerSocket.newInstance()) {
            s.setDeleteOnClose(false);
            s.bind(AFUNIXSocketAddress.of(stale));
        }
        VhostUserException refused = connectFails(stale, VhostUserOptions.defaults());
        assertTrue(refused.getMessage().contains("refused"), refused.getMessage());
        assertTrue(refused.shouldReconnect(), "connection refused: a target still starting");
    }

    // ---------------------------------------------------------------- the answer was wrong: do not

    @Test
    void malformedReplies() {
        fake.on(GET_FEATURES, (msg, peer) -> peer.reply(GET_FEATURES.code(), REPLY_FLAGS, 4, new byte[4]));
        VhostUserException e = connectFails();
        assertTrue(e.getMessage().contains("4 bytes, expected 8"), e.getMessage());
        assertFalse(e.shouldReconnect(), "a wrong size");
    }

    @Test
    void wrongRequestCodeInTheReply() {
        fake.on(GET_FEATURES, (msg, peer) -> peer.reply(SET_FEATURES.code(), REPLY_FLAGS, 8, new byte[8]));
        assertFalse(connectFails().shouldReconnect());
    }

    @Test
    void implausibleValue() {
        fake.queueNum = 0;
        VhostUserException e = connectFails();
        assertTrue(e.getMessage().contains(GET_QUEUE_NUM.specName()) && e.getMessage().contains("answered 0 queues"), e.getMessage());
        assertFalse(e.shouldReconnect());
    }

    @Test
    void negativeReplyAck() {
        fake.on(SET_FEATURES, (msg, peer) -> peer.replyU64(msg, 5));
        VhostUserFrontend b = VhostUserFrontend.connect(fake.socketPath, memory, VhostUserOptions.defaults());
        try {
            VhostUserException e = assertThrows(VhostUserException.class,
                    () -> b.setFeatures(VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1)));
            assertFalse(e.shouldReconnect(), "the back-end refused: " + e.getMessage());
        } finally {
            b.destruct();
        }
    }

    @Test
    void configReplyOfTheWrongSize() {
        fake.on(GET_CONFIG, (msg, peer) -> peer.reply(msg, new VhostUserConfig(0, 0, new byte[4])));
        VhostUserFrontend b = VhostUserFrontend.connect(fake.socketPath, memory, VhostUserOptions.defaults());
        try {
            VhostUserException e = assertThrows(VhostUserException.class, () -> b.readDevConfig(0, Arena.ofAuto().allocate(8)));
            assertFalse(e.shouldReconnect(), e.getMessage());
        } finally {
            b.destruct();
        }
    }

    @Test
    void notASocketOrAnImpossiblePath() throws Exception {
        Path file = Files.writeString(dir.resolve("plain"), "x");
        assertFalse(connectFails(file, VhostUserOptions.defaults()).shouldReconnect(), "a regular file stays one");
        assertFalse(connectFails(dir.resolve("x".repeat(120)), VhostUserOptions.defaults()).shouldReconnect(), "too long a path");
    }

    @Test
    void aCallOnAClosedTransport() {
        VhostUserFrontend b = VhostUserFrontend.connect(fake.socketPath, memory, VhostUserOptions.defaults());
        b.destruct();
        VhostUserException e = assertThrows(VhostUserException.class, b::getStatus);
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        assertFalse(e.shouldReconnect(), "closed by its owner");
    }

    @Test
    void decodersSayMalformed() {
        assertFalse(assertThrows(VhostUserException.class, () -> VhostUserHeader.decode(ByteBuffer.allocate(11)))
                .shouldReconnect());
    }
}
