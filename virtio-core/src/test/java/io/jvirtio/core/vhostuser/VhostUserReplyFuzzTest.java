package io.jvirtio.core.vhostuser;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jvirtio.spec.vhostuser.VhostUserConfig;
import io.jvirtio.spec.vhostuser.VhostUserException;
import io.jvirtio.spec.vhostuser.VhostUserInflight;
import io.jvirtio.spec.vhostuser.VhostUserProtocolFeature;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import io.jvirtio.sys.Native;
import org.junit.jupiter.api.Timeout;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fuzz target 1a: every reply a vhost-user back-end can send to the front-end. The input is a byte
 * stream the "back-end" end of a fresh unix socket connection has written before the front-end asks anything; the
 * front-end then runs its real handshake (SET_OWNER, GET_FEATURES, GET_PROTOCOL_FEATURES,
 * SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, GET_MAX_MEM_SLOTS, each with REPLY_ACK once negotiated), a
 * GET_CONFIG, a GET_STATUS and a GET_INFLIGHT_FD (optionally with an fd attached), each only when
 * its protocol feature was negotiated, as {@link VhostUserFrontend} does.
 *
 * <p>Input layout: byte 0 = config size asked (1..256), byte 1 bit 0 = attach an eventfd to the
 * second write, bytes 2..3 = where the stream is split into two writes (u16 LE), then the stream.
 *
 * <p>Invariant: the only exception is {@link VhostUserException}; a reply that was rejected as
 * malformed leaves the connection broken (the next request fails without reading); a received fd
 * is owned and closed, and no file descriptor outlives the execution; nothing blocks (the back-end end is shut down, so a short reply is an EOF,
 * and every execution has a timeout).
 *
 * <p>Regression mode (every build): the seeds and crash inputs in
 * {@code src/test/resources/io/jvirtio/core/vhostuser/VhostUserReplyFuzzTestInputs/replies/}.
 * Fuzzing mode: see docs/fuzzing.md.
 */
class VhostUserReplyFuzzTest {
    static {
        // millions of rejected inputs would each log an error; set before the loggers exist
        System.setProperty("org.slf4j.simpleLogger.log.io.jvirtio", "off");
    }

    private static final Path PATH = Path.of("fuzz-replies");
    private static AFUNIXServerSocket listener;

    @FuzzTest(maxDuration = "10m")
    @Timeout(10)
    void replies(byte[] data) throws IOException {
        if (data.length < 4) {
            return;
        }
        int configSize = 1 + (data[0] & 0xFF) % VhostUserConfig.MAX_CONFIG_SIZE;
        boolean sendFd = (data[1] & 1) != 0;
        byte[] stream = Arrays.copyOfRange(data, 4, data.length);
        int split = Math.min(stream.length, (data[2] & 0xFF) | (data[3] & 0xFF) << 8);

        listener(); // opened once, before the first count
        long fdsBefore = openFds();
        run(configSize, sendFd, stream, split);
        long fdsAfter = openFds();
        assertEquals(fdsBefore, fdsAfter, "file descriptors open before and after one execution");
    }

    private static void run(int configSize, boolean sendFd, byte[] stream, int split) throws IOException {
        int eventFd = -1;
        AFUNIXSocket client = AFUNIXSocket.newInstance();
        client.connect(listener().getLocalSocketAddress());
        try (AFUNIXSocket backend = client;
             VhostUserConnection conn = VhostUserConnection.accepted(PATH, listener().accept(), Duration.ofSeconds(2))) {
            OutputStream out = backend.getOutputStream();
            out.write(stream, 0, split);
            if (sendFd) {
                eventFd = Native.eventfd(0, 0);
                backend.setOutboundFileDescriptors(FileDescriptorCast.unsafeUsing(eventFd).getFileDescriptor());
            }
            out.write(stream, split, stream.length - split);
            out.flush();
            backend.getChannel().shutdownOutput();
            exercise(conn, configSize);
        } finally {
            if (eventFd >= 0) {
                Native.closeQuietly(eventFd);
            }
        }
    }

    /** One listening socket for the whole run: each execution connects a fresh pair through it. */
    private static synchronized AFUNIXServerSocket listener() throws IOException {
        if (listener == null) {
            Path dir = Files.createTempDirectory("jvirtio-fuzz");
            dir.toFile().deleteOnExit();
            File sock = dir.resolve("replies.sock").toFile();
            sock.deleteOnExit();
            listener = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(sock));
        }
        return listener;
    }

    private static long openFds() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    private static void exercise(VhostUserConnection conn, int configSize) {
        try {
            VhostUserFrontend.Handshake hs = VhostUserFrontend.handshake(conn, VhostUserOptions.defaults());
            long protocol = hs.protocol();
            if (VhostUserProtocolFeature.has(protocol, VhostUserProtocolFeature.CONFIG)) {
                conn.call(VhostUserRequest.GET_CONFIG, VhostUserConfig.request(0, configSize),
                        buf -> VhostUserFrontend.decodeConfig(buf, configSize));
            }
            if (VhostUserProtocolFeature.has(protocol, VhostUserProtocolFeature.STATUS)) {
                conn.callU64(VhostUserRequest.GET_STATUS);
            }
            if (VhostUserProtocolFeature.has(protocol, VhostUserProtocolFeature.INFLIGHT_SHMFD)) {
                VhostUserConnection.WithFd<VhostUserInflight> r = conn.callReceivingFd(VhostUserRequest.GET_INFLIGHT_FD,
                        new VhostUserInflight(0, 0, 2, 256), VhostUserInflight::decode);
                assertTrue(r.fd() >= 0, "a WithFd without an fd");
                Native.close(r.fd());
            }
        } catch (VhostUserException e) {
            assertTrue(e.getMessage() != null && !e.getMessage().isBlank(), "an error without a message");
            if (conn.isBroken()) {
                // a broken connection never reads again: the next request fails at once, typed
                try {
                    conn.callU64(VhostUserRequest.GET_FEATURES);
                    throw new AssertionError("a broken connection answered a request", e);
                } catch (VhostUserException expected) {
                    assertTrue(expected.getMessage().contains("broken"), expected.getMessage());
                }
            }
        }
    }

}
