package io.jvirtio.core.vhostuser;

import io.jvirtio.core.TransportUnsupportedException;
import io.jvirtio.spec.vhostuser.VhostUserConfig;
import io.jvirtio.spec.vhostuser.VhostUserHeader;
import io.jvirtio.spec.vhostuser.VhostUserProtocolFeature;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import io.jvirtio.spec.vhostuser.VhostUserVringState;
import io.jvirtio.spec.vhostuser.VhostUserException;

import io.jvirtio.spec.VirtioException;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.VirtioStatus;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.sys.LinuxConstants;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static io.jvirtio.core.vhostuser.ScriptedVhostUserBackend.REPLY_FLAGS;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.GET_CONFIG;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.GET_FEATURES;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.GET_PROTOCOL_FEATURES;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.GET_QUEUE_NUM;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.GET_VRING_BASE;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.SET_FEATURES;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.SET_VRING_NUM;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A back-end that answers wrongly, late, or not at all: every case is a {@link VhostUserException}
 * (a refused GET_CONFIG: a {@link io.jvirtio.core.TransportUnsupportedException})
 * naming the socket, the request and the value, within a bounded time; never a hang.
 */
@Timeout(30)
class VhostUserErrorTest {
    static final Duration SHORT = Duration.ofMillis(300);

    @TempDir
    Path dir;
    ScriptedVhostUserBackend fake;
    MemoryDomain memory;

    @BeforeEach
    void setUp() throws Exception {
        fake = new ScriptedVhostUserBackend(dir.resolve("vhost.sock"));
        memory = MemoryDomain.create("error-test", LinuxConstants.HUGE_PAGE_2M, HugePagePolicy.NEVER);
    }

    @AfterEach
    void tearDown() throws Exception {
        fake.close();
        memory.close();
    }

    VhostUserOptions shortTimeout() {
        return VhostUserOptions.builder().replyTimeout(SHORT).build();
    }

    /** Connects, expecting failure; returns the message after checking it names the socket and the request. */
    String connectFails(VhostUserRequest request) {
        VhostUserException e = assertThrows(VhostUserException.class,
                () -> VhostUserFrontend.connect(fake.socketPath, memory, shortTimeout()));
        String m = e.getMessage();
        assertTrue(m.contains(fake.socketPath.toString()), m);
        assertTrue(m.contains(request.specName()), m);
        assertInstanceOf(VirtioException.class, e);
        return m;
    }

    @Test
    void wrongRequestCode() {
        fake.on(GET_FEATURES, (msg, peer) -> peer.reply(SET_FEATURES.code(), REPLY_FLAGS, 8, new byte[8]));
        String m = connectFails(GET_FEATURES);
        assertTrue(m.contains("request code 2 (VHOST_USER_SET_FEATURES)"), m);
    }

    @Test
    void unknownRequestCode() {
        fake.on(GET_FEATURES, (msg, peer) -> peer.reply(99, REPLY_FLAGS, 8, new byte[8]));
        assertTrue(connectFails(GET_FEATURES).contains("99 (unknown)"));
    }

    @Test
    void missingReplyFlag() {
        fake.on(GET_FEATURES, (msg, peer) -> peer.reply(GET_FEATURES.code(), VhostUserHeader.VERSION, 8, new byte[8]));
        String m = connectFails(GET_FEATURES);
        assertTrue(m.contains("flags 0x1") && m.contains("REPLY flag"), m);
    }

    @Test
    void wrongVersion() {
        fake.on(GET_FEATURES, (msg, peer) -> peer.reply(GET_FEATURES.code(), VhostUserHeader.FLAG_REPLY | 2, 8, new byte[8]));
        assertTrue(connectFails(GET_FEATURES).contains("version 2"));
    }

    @Test
    void wrongSize() {
        fake.on(GET_FEATURES, (msg, peer) -> peer.reply(GET_FEATURES.code(), REPLY_FLAGS, 4, new byte[4]));
        assertTrue(connectFails(GET_FEATURES).contains("4 bytes, expected 8"));
    }

    @Test
    void oversizedReplyIsRejectedBeforeReading() {
        fake.on(GET_PROTOCOL_FEATURES, (msg, peer) -> peer.reply(msg.header().request(), REPLY_FLAGS, 1 << 20, new byte[0]));
        assertTrue(connectFails(GET_PROTOCOL_FEATURES).contains("payload size 1048576"));
    }

    @Test
    void noReplyTimesOutInBoundedTime() {
        fake.on(GET_QUEUE_NUM, (msg, peer) -> { });
        long t0 = System.nanoTime();
        String m = connectFails(GET_QUEUE_NUM);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(m.contains("no reply to VHOST_USER_GET_QUEUE_NUM within 300 ms"), m);
        assertTrue(ms < 3000, "took " + ms + " ms");
    }

    @Test
    void replyAckNonZero() {
        fake.on(SET_FEATURES, (msg, peer) -> peer.replyU64(msg, 5));
        try (Backend b = new Backend()) {
            VhostUserException e = assertThrows(VhostUserException.class,
                    () -> b.backend.setFeatures(VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1)));
            String m = e.getMessage();
            assertTrue(m.contains(fake.socketPath.toString()) && m.contains("VHOST_USER_SET_FEATURES") && m.contains("u64 5"), m);
        }
    }

    @Test
    void replyAckNonZeroDuringStartMarksTheDeviceForReset() {
        fake.on(SET_VRING_NUM, (msg, peer) -> peer.replyU64(msg, 1));
        try (Backend b = new Backend()) {
            b.backend.setupQueue(VhostUserFrontendTest.ring(memory, 0));
            String m = assertThrows(VhostUserException.class,
                    () -> b.backend.setStatus(VhostUserFrontendTest.RUNNING)).getMessage();
            assertTrue(m.contains("VHOST_USER_SET_VRING_NUM") && m.contains("u64 1"), m);
            assertTrue((b.backend.getStatus() & VirtioStatus.DEVICE_NEEDS_RESET) != 0);
            String refused = assertThrows(VhostUserException.class, () -> b.backend.setStatus(VirtioStatus.ACKNOWLEDGE)).getMessage();
            assertTrue(refused.contains("needs a reset"), refused);
            b.backend.setStatus(VirtioStatus.RESET); // stops queue 0 (it got its KICK? no: failed at NUM) and clears the flag
            assertEquals(VirtioStatus.RESET, b.backend.getStatus());
        }
    }

    @Test
    void failureAfterKickStillStopsTheQueueOnReset() {
        fake.on(VhostUserRequest.SET_VRING_ENABLE, (msg, peer) -> peer.replyU64(msg, 22));
        try (Backend b = new Backend()) {
            b.backend.setupQueue(VhostUserFrontendTest.ring(memory, 0));
            String m = assertThrows(VhostUserException.class,
                    () -> b.backend.setStatus(VhostUserFrontendTest.RUNNING)).getMessage();
            assertTrue(m.contains("VHOST_USER_SET_VRING_ENABLE") && m.contains("u64 22"), m);
            assertFalse(b.backend.isStarted());
            b.backend.setStatus(VirtioStatus.RESET);
            assertEquals(GET_VRING_BASE, fake.requests().getLast(), "the back-end runs the ring since KICK: stop it");
        }
    }

    @Test
    void connectionClosedMidReply() {
        fake.on(GET_PROTOCOL_FEATURES, (msg, peer) -> {
            peer.reply(msg.header().request(), REPLY_FLAGS, 8, new byte[4]);
            peer.close();
        });
        String m = connectFails(GET_PROTOCOL_FEATURES);
        assertTrue(m.contains("closed the connection") && m.contains("got 4 of 8"), m);
    }

    @Test
    void connectionClosedBeforeReply() {
        fake.on(GET_FEATURES, (msg, peer) -> peer.close());
        String m = connectFails(GET_FEATURES);
        assertTrue(m.contains("closed the connection") && m.contains("got 0 of 12"), m);
    }

    @Test
    void writeAfterTheBackendHungUp() throws Exception {
        fake.protocolFeatures = VhostUserProtocolFeature.bit(VhostUserProtocolFeature.MQ); // no REPLY_ACK: nothing to wait for
        fake.on(SET_FEATURES, (msg, peer) -> peer.close());
        try (Backend b = new Backend()) {
            b.backend.setFeatures(VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1));
            Thread.sleep(100);
            b.backend.setupQueue(VhostUserFrontendTest.ring(memory, 0));
            String m = assertThrows(VhostUserException.class, () -> b.backend.setStatus(VhostUserFrontendTest.RUNNING)).getMessage();
            assertTrue(m.contains(fake.socketPath.toString()) && m.contains("VHOST_USER_SET_MEM_TABLE"), m);
        }
    }

    @Test
    void lateReplyBreaksTheConnectionForGood() {
        fake.on(GET_VRING_BASE, (msg, peer) -> {
            Thread.sleep(600);
            peer.reply(msg, new VhostUserVringState(0, 0));
        });
        try (Backend b = new Backend(shortTimeout())) {
            b.backend.setupQueue(VhostUserFrontendTest.ring(memory, 0));
            b.backend.setStatus(VhostUserFrontendTest.RUNNING);
            String m = assertThrows(VhostUserException.class, () -> b.backend.deleteQueue(0)).getMessage();
            assertTrue(m.contains("no reply to VHOST_USER_GET_VRING_BASE within 300 ms"), m);
            // the late answer must not be taken for the answer to anything else
            String next = assertThrows(VhostUserException.class,
                    () -> b.backend.readDevConfig(0, Arena.ofAuto().allocate(8))).getMessage();
            assertTrue(next.contains("VHOST_USER_GET_CONFIG") && next.contains("broken by an earlier error"), next);
        }
    }

    @Test
    void getVringBaseForAnotherQueue() {
        fake.on(GET_VRING_BASE, (msg, peer) -> peer.reply(msg, new VhostUserVringState(5, 3)));
        try (Backend b = new Backend()) {
            b.backend.setupQueue(VhostUserFrontendTest.ring(memory, 0));
            b.backend.setStatus(VhostUserFrontendTest.RUNNING);
            String m = assertThrows(VhostUserException.class, () -> b.backend.deleteQueue(0)).getMessage();
            assertTrue(m.contains("VHOST_USER_GET_VRING_BASE") && m.contains("index=5"), m);
        }
    }

    @Test
    void queueNumZero() {
        fake.queueNum = 0;
        assertTrue(connectFails(GET_QUEUE_NUM).contains("answered 0 queues"));
    }

    @Test
    void getConfigRefused() {
        fake.config = new byte[8];
        try (Backend b = new Backend()) {
            String m = assertThrows(TransportUnsupportedException.class,
                    () -> b.backend.readDevConfig(0, Arena.ofAuto().allocate(16))).getMessage();
            assertTrue(m.contains("VHOST_USER_GET_CONFIG") && m.contains("refused") && m.contains("of 16 bytes"), m);
            b.backend.readDevConfig(0, Arena.ofAuto().allocate(8)); // a refusal is an answer: the connection stays usable
        }
    }

    @Test
    void getConfigWithWrongSizeField() {
        fake.on(GET_CONFIG, (msg, peer) -> peer.reply(msg, new VhostUserConfig(0, 0, new byte[4])));
        try (Backend b = new Backend()) {
            String m = assertThrows(VhostUserException.class,
                    () -> b.backend.readDevConfig(0, Arena.ofAuto().allocate(8))).getMessage();
            assertTrue(m.contains("VHOST_USER_GET_CONFIG") && m.contains("size 4"), m);
        }
    }

    @Test
    void missingSocketNamesThePath() {
        Path missing = dir.resolve("nobody-here.sock");
        String m = assertThrows(VhostUserException.class,
                () -> VhostUserFrontend.connect(missing, memory, VhostUserOptions.defaults())).getMessage();
        assertTrue(m.contains(missing.toString()) && m.contains("does not exist") && m.contains("nothing listens"), m);
    }

    @Test
    void staleSocketIsRefused() throws Exception {
        Path stale = dir.resolve("stale.sock");
        try (AFUNIXServerSocket s = AFUNIXServerSocket.newInstance()) {
            s.setDeleteOnClose(false);
            s.bind(AFUNIXSocketAddress.of(stale));
        }
        assertTrue(Files.exists(stale));
        String m = assertThrows(VhostUserException.class,
                () -> VhostUserFrontend.connect(stale, memory, VhostUserOptions.builder().connectRetries(2, Duration.ofMillis(10)).build())).getMessage();
        assertTrue(m.contains(stale.toString()) && m.contains("refused") && m.contains("after 3 attempts"), m);
    }

    @Test
    void regularFileIsNotASocket() throws Exception {
        Path file = Files.writeString(dir.resolve("plain"), "x");
        String m = assertThrows(VhostUserException.class,
                () -> VhostUserFrontend.connect(file, memory, VhostUserOptions.defaults())).getMessage();
        assertTrue(m.contains(file.toString()) && m.contains("not a unix socket"), m);
    }

    @Test
    void tooLongPath() {
        Path longPath = dir.resolve("x".repeat(120));
        String m = assertThrows(VhostUserException.class,
                () -> VhostUserFrontend.connect(longPath, memory, VhostUserOptions.defaults())).getMessage();
        assertTrue(m.contains("at most 107"), m);
    }

    @Test
    void optionsRejectUnsupportedProtocolFeatures() {
        String m = assertThrows(IllegalArgumentException.class, () -> VhostUserOptions.builder()
                .protocolFeature(VhostUserProtocolFeature.LOG_SHMFD, true).build()).getMessage();
        assertTrue(m.contains("LOG_SHMFD"), m);
        assertThrows(IllegalArgumentException.class, () -> VhostUserOptions.builder().maxQueueSize(100).build());
        assertThrows(IllegalArgumentException.class, () -> VhostUserOptions.builder().replyTimeout(Duration.ZERO).build());
        assertFalse(VhostUserOptions.builder().protocolFeature(VhostUserProtocolFeature.STATUS, false).build()
                .requests(VhostUserProtocolFeature.STATUS));
    }

    /** A connected backend, destructed on close. */
    final class Backend implements AutoCloseable {
        final VhostUserFrontend backend;

        Backend() {
            this(VhostUserOptions.defaults());
        }

        Backend(VhostUserOptions options) {
            backend = VhostUserFrontend.connect(fake.socketPath, memory, options);
        }

        @Override
        public void close() {
            backend.destruct();
        }
    }
}
