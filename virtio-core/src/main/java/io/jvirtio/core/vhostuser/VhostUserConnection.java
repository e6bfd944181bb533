package io.jvirtio.core.vhostuser;

import io.jvirtio.spec.vhostuser.VhostUserHeader;
import io.jvirtio.spec.vhostuser.VhostUserMessage;
import io.jvirtio.spec.vhostuser.VhostUserPayload;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import io.jvirtio.spec.vhostuser.VhostUserU64;
import io.jvirtio.spec.vhostuser.VhostUserException;

import io.jvirtio.sys.Native;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The front-end end of one vhost-user socket: sends requests (one write per message, fds attached
 * with SCM_RIGHTS) and reads and validates replies. Every reply must carry version 1, the REPLY
 * flag, the request code just sent and the size its type requires; it must arrive within the
 * reply timeout. Anything else throws a {@link VhostUserException} naming the socket, the request
 * and the value, and leaves the connection broken: a late or stray reply can never be taken for
 * the answer to a later request.
 *
 * <p>No ancillary receive buffer is set: this front-end expects no fds from the back-end, and the
 * kernel drops (closes) any it sends. Thread-safe: requests are serialised.
 */
public final class VhostUserConnection implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VhostUserConnection.class);

    /** {@code sizeof(sockaddr_un.sun_path)} minus the terminating NUL. */
    public static final int MAX_SOCKET_PATH_BYTES = 107;
    /** Room for a few fds of ancillary data (SCM_RIGHTS), set only while a reply with an fd is awaited. */
    private static final int ANCILLARY_BUFFER = 256;

    private final Path path;
    private final AFUNIXSocket socket;
    private final InputStream in;
    private final OutputStream out;
    private final long replyTimeoutNanos;
    private boolean replyAck;
    private VhostUserException broken;
    private boolean closed;

    private VhostUserConnection(Path path, AFUNIXSocket socket, Duration replyTimeout) throws IOException {
        this.path = path;
        this.socket = socket;
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
        this.replyTimeoutNanos = replyTimeout.toNanos();
    }

    /**
     * Connects to a back-end listening on {@code path} (client mode).
     *
     * @param path           the back-end's socket
     * @param connectTimeout the timeout of one connect attempt
     * @param retries        further attempts when the socket is missing or refuses (a target still starting)
     * @param retryDelay     the pause between attempts
     * @param replyTimeout   how long to wait for each reply
     * @return the connection
     * @throws VhostUserException naming the path and why nothing could be reached there
     */
    public static VhostUserConnection connect(Path path, Duration connectTimeout, int retries, Duration retryDelay,
                                              Duration replyTimeout) {
        int bytes = path.toString().getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_SOCKET_PATH_BYTES) {
            throw VhostUserException.invalidOperation("vhost-user socket path " + path + " is " + bytes
                    + " bytes long; a unix socket path holds at most " + MAX_SOCKET_PATH_BYTES);
        }
        String reason = null;
        boolean notASocket = false;
        IOException cause = null;
        for (int attempt = 0; attempt <= retries; attempt++) {
            if (attempt > 0) {
                sleep(retryDelay);
            }
            reason = unreachableReason(path);
            if (reason != null && !reason.contains("does not exist")) {
                notASocket = true;
                break; // not a socket: retrying will not help
            }
            if (reason == null) {
                AFUNIXSocket socket = null;
                try {
                    socket = AFUNIXSocket.newInstance();
                    socket.connect(AFUNIXSocketAddress.of(path), (int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis()));
                    LOG.debug("vhost-user {}: connected (attempt {})", path, attempt + 1);
                    return new VhostUserConnection(path, socket, replyTimeout);
                } catch (IOException e) {
                    closeQuietly(socket);
                    cause = e;
                    reason = connectFailure(path, e);
                }
            }
            LOG.debug("vhost-user {}: attempt {} of {}: {}", path, attempt + 1, retries + 1, reason);
        }
        String attempts = retries > 0 ? " (after " + (retries + 1) + " attempts)" : "";
        // a missing or refusing socket may be a target still starting: a later attempt can succeed
        throw new VhostUserException("cannot connect to vhost-user socket " + path + ": " + reason + attempts, !notASocket, cause);
    }

    /** A connection a back-end made to a server-mode front-end's listener. */
    static VhostUserConnection accepted(Path path, AFUNIXSocket socket, Duration replyTimeout) throws IOException {
        return new VhostUserConnection(path, socket, replyTimeout);
    }

    private static String unreachableReason(Path path) {
        BasicFileAttributes attrs;
        try {
            attrs = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            return Files.exists(path) ? null : "the file does not exist, nothing listens there";
        }
        if (attrs.isSymbolicLink()) {
            return null; // let connect() follow it
        }
        if (attrs.isRegularFile()) {
            return "it is a regular file, not a unix socket";
        }
        if (attrs.isDirectory()) {
            return "it is a directory, not a unix socket";
        }
        return null;
    }

    private static String connectFailure(Path path, IOException e) {
        String m = String.valueOf(e.getMessage());
        if (m.contains("refused")) {
            return "connection refused, nothing listens there (a stale socket file?)";
        }
        if (m.contains("No such file")) {
            return "the file does not exist, nothing listens there";
        }
        if (m.contains("ermission")) {
            return "permission denied (" + m + ")";
        }
        return e.getClass().getSimpleName() + ": " + m;
    }

    private static void sleep(Duration d) {
        try {
            TimeUnit.NANOSECONDS.sleep(d.toNanos());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VhostUserException("interrupted while waiting to reconnect", false, e);
        }
    }

    /** @return the socket path */
    public Path path() {
        return path;
    }

    /**
     * Turns REPLY_ACK on once it has been negotiated: from then on every request that has no
     * reply of its own is sent with NEED_REPLY and waits for the back-end's u64 status.
     */
    public synchronized void enableReplyAck() {
        this.replyAck = true;
    }

    /** @return whether REPLY_ACK is in use */
    public synchronized boolean replyAck() {
        return replyAck;
    }

    /** @return the socket's file descriptor (for a hang-up watch; owned by this connection) */
    int socketFd() {
        try {
            return FileDescriptorCast.using(socket.getFileDescriptor()).as(Integer.class);
        } catch (IOException e) {
            throw VhostUserException.socketFailure(prefix() + "cannot get the socket's file descriptor: " + e.getMessage(), e);
        }
    }

    /**
     * Records that the back-end went away (a hang-up seen outside any request): every later request
     * fails at once with {@code reason} instead of writing into a dead socket.
     */
    synchronized void markLost(String reason) {
        if (broken == null) {
            broken = VhostUserException.socketFailure(reason, null);
        }
    }

    /** @return whether an earlier protocol error made the connection unusable */
    public synchronized boolean isBroken() {
        return broken != null;
    }

    /**
     * Sends a request that has no reply of its own. With REPLY_ACK in use it carries NEED_REPLY
     * and this waits for the acknowledgement; a non-zero one throws.
     *
     * @param request the request ({@link VhostUserRequest#hasReply()} false)
     * @param payload the payload, or null
     * @param fds     file descriptors to pass with it
     */
    public synchronized void send(VhostUserRequest request, VhostUserPayload payload, int... fds) {
        if (request.hasReply()) {
            throw new IllegalArgumentException(request + " has a reply: use call()");
        }
        write(VhostUserMessage.request(request, replyAck, payload), fds);
        if (replyAck) {
            long ack = read(request, VhostUserU64::decode).value();
            if (ack != 0) {
                throw VhostUserException.protocolError(prefix() + request + " failed: the back-end answered REPLY_ACK with u64 " + ack
                        + " (0x" + Long.toHexString(ack) + "), 0 means success");
            }
        }
    }

    /**
     * Sends a request that has a reply and decodes the reply.
     *
     * @param request the request ({@link VhostUserRequest#hasReply()} true)
     * @param payload the payload, or null
     * @param decoder decodes and validates the reply payload (position to limit); throws
     *                {@link VhostUserException} on a bad size or value
     * @return the decoded reply
     */
    public synchronized <T> T call(VhostUserRequest request, VhostUserPayload payload, Function<ByteBuffer, T> decoder) {
        if (!request.hasReply()) {
            throw new IllegalArgumentException(request + " has no reply: use send()");
        }
        write(VhostUserMessage.request(request, false, payload), new int[0]);
        return read(request, decoder);
    }

    /** A reply that came with one file descriptor (GET_INFLIGHT_FD); the fd is the caller's to close. */
    public record WithFd<T>(T reply, int fd) {
    }

    /**
     * As {@link #call}, for the one reply that carries a file descriptor (GET_INFLIGHT_FD). An
     * ancillary receive buffer is set for this call only, so no other reply can smuggle fds in;
     * extra fds are closed.
     *
     * @throws VhostUserException when the reply carries no fd
     */
    public synchronized <T> WithFd<T> callReceivingFd(VhostUserRequest request, VhostUserPayload payload, Function<ByteBuffer, T> decoder) {
        if (!request.hasReply()) {
            throw new IllegalArgumentException(request + " has no reply: use send()");
        }
        socket.setAncillaryReceiveBufferSize(ANCILLARY_BUFFER);
        write(VhostUserMessage.request(request, false, payload), new int[0]);
        T reply = read(request, decoder);
        int fd = -1;
        try {
            FileDescriptor[] got = socket.getReceivedFileDescriptors();
            for (int i = 0; got != null && i < got.length; i++) {
                int n = FileDescriptorCast.using(got[i]).as(Integer.class);
                if (fd < 0) {
                    fd = Native.dup(n); // ours to keep: the FileDescriptor object may close its number
                }
                Native.closeQuietly(n);
            }
            socket.setAncillaryReceiveBufferSize(0);
        } catch (IOException e) {
            throw fail(VhostUserException.socketFailure(prefix() + "receiving the fd of " + request + ": " + e.getMessage(), e));
        }
        if (fd < 0) {
            throw fail(VhostUserException.protocolError(prefix() + "the reply to " + request + " carries no file descriptor"));
        }
        return new WithFd<>(reply, fd);
    }

    /** Sends a request without payload whose reply is a u64, e.g. GET_FEATURES. */
    public long callU64(VhostUserRequest request) {
        return call(request, null, VhostUserU64::decode).value();
    }

    private void ensureUsable(VhostUserRequest request) {
        if (closed) {
            throw VhostUserException.invalidOperation(prefix() + "cannot send " + request + ": connection closed");
        }
        if (broken != null) {
            throw new VhostUserException(prefix() + "cannot send " + request + ": connection broken by an earlier error ("
                    + broken.getMessage() + ")", broken.shouldReconnect(), broken);
        }
    }

    private void write(VhostUserMessage msg, int[] fds) {
        VhostUserRequest request = VhostUserRequest.fromCode(msg.header().request());
        ensureUsable(request);
        byte[] bytes = msg.toBytes();
        LOG.debug("vhost-user {}: -> {}{}", path, msg, fds.length == 0 ? "" : " fds=" + fds.length);
        try {
            if (fds.length > 0) {
                FileDescriptor[] wrapped = new FileDescriptor[fds.length];
                for (int i = 0; i < fds.length; i++) {
                    wrapped[i] = FileDescriptorCast.unsafeUsing(fds[i]).getFileDescriptor();
                }
                socket.setOutboundFileDescriptors(wrapped);
            }
            out.write(bytes);
            out.flush();
        } catch (IOException e) {
            throw fail(VhostUserException.socketFailure(prefix() + "cannot send " + request + ": " + e.getMessage()
                    + " (has the back-end closed the connection?)", e));
        }
    }

    private <T> T read(VhostUserRequest request, Function<ByteBuffer, T> decoder) {
        long deadline = System.nanoTime() + replyTimeoutNanos;
        byte[] head = new byte[VhostUserHeader.SIZE];
        readFully(request, head, deadline, "header");
        VhostUserHeader header = VhostUserHeader.decode(VhostUserMessage.wrap(head));
        try {
            header.checkReplyTo(request);
        } catch (VhostUserException e) {
            throw fail(VhostUserException.protocolError(prefix() + e.getMessage()));
        }
        byte[] body = new byte[header.size()];
        readFully(request, body, deadline, "payload of " + body.length + " bytes");
        try {
            T reply = decoder.apply(VhostUserMessage.wrap(body));
            LOG.debug("vhost-user {}: <- {} {}", path, header, reply);
            return reply;
        } catch (VhostUserException e) {
            throw fail(new VhostUserException(prefix() + "reply to " + request + ": " + e.getMessage(), e.shouldReconnect(), null));
        }
    }

    private void readFully(VhostUserRequest request, byte[] buf, long deadline, String what) {
        int off = 0;
        while (off < buf.length) {
            long remaining = deadline - System.nanoTime();
            if (remaining <= 0) {
                throw fail(timeout(request, what, off, buf.length));
            }
            int n;
            try {
                socket.setSoTimeout((int) Math.max(1, Math.min(Integer.MAX_VALUE, TimeUnit.NANOSECONDS.toMillis(remaining))));
                n = in.read(buf, off, buf.length - off);
            } catch (SocketTimeoutException e) {
                throw fail(timeout(request, what, off, buf.length));
            } catch (IOException e) {
                throw fail(VhostUserException.socketFailure(prefix() + "reading the reply to " + request + " (" + what + "): "
                        + e.getMessage(), e));
            }
            if (n < 0) {
                throw fail(VhostUserException.socketFailure(prefix() + "the back-end closed the connection while " + request
                        + " awaited its reply (" + what + ": got " + off + " of " + buf.length + " bytes)", null));
            }
            off += n;
        }
    }

    private VhostUserException timeout(VhostUserRequest request, String what, int got, int wanted) {
        // the late reply may still come on this socket; a new connection starts clean
        return VhostUserException.socketFailure(prefix() + "no reply to " + request + " within "
                + TimeUnit.NANOSECONDS.toMillis(replyTimeoutNanos) + " ms (" + what + ": got " + got + " of " + wanted + " bytes)", null);
    }

    private VhostUserException fail(VhostUserException e) {
        if (broken == null) {
            broken = e;
        }
        return e;
    }

    private String prefix() {
        return "vhost-user " + path + ": ";
    }

    /** Closes the socket. Idempotent. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            shutdownQuietly(socket); // the peer sees EOF now, though a hang-up watch still holds a duplicate fd
            closeQuietly(socket);
            LOG.debug("vhost-user {}: closed", path);
        }
    }

    private static void shutdownQuietly(AFUNIXSocket s) {
        try {
            s.shutdownInput();
            s.shutdownOutput();
        } catch (IOException ignored) {
            // already shut down or never connected
        }
    }

    private static void closeQuietly(AFUNIXSocket s) {
        if (s != null) {
            try {
                s.close();
            } catch (IOException ignored) {
                // nothing to do on a failing close
            }
        }
    }

    @Override
    public String toString() {
        return "VhostUserConnection[" + path + (broken != null ? ", broken" : "") + (closed ? ", closed" : "") + "]";
    }
}
