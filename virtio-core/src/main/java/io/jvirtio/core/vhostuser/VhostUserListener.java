package io.jvirtio.core.vhostuser;

import io.jvirtio.spec.vhostuser.VhostUserException;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;

/**
 * The listening socket of a front-end in server mode (DPDK virtio_user's {@code server=1}): the
 * back-end connects to it, at the start and again after every restart, so it stays open for the
 * life of the device. It never takes over a socket path another process serves, and removes on
 * close only the socket file it created.
 */
final class VhostUserListener implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VhostUserListener.class);
    /** How long the probe of an existing socket file waits for a live listener to answer. */
    private static final int PROBE_TIMEOUT_MILLIS = 500;

    private final Path path;
    private final AFUNIXServerSocket server;
    private final Object fileKey;

    private VhostUserListener(Path path, AFUNIXServerSocket server, Object fileKey) {
        this.path = path;
        this.server = server;
        this.fileKey = fileKey;
    }

    /**
     * Listens on {@code path}. A stale socket file (nothing accepts) is replaced; a live one is refused.
     *
     * @throws VhostUserException naming the path: it is served by a live listener, is not a socket, or cannot be bound
     */
    static VhostUserListener bind(Path path) {
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            if (!isSocket(path)) {
                throw VhostUserException.invalidOperation("vhost-user socket path " + path + " exists and is not a unix socket; refusing to replace it");
            }
            if (live(path)) {
                throw VhostUserException.invalidOperation("vhost-user socket " + path + " is served by a live listener; refusing to take it over");
            }
            try {
                Files.deleteIfExists(path);
            } catch (IOException e) {
                throw VhostUserException.invalidOperation("cannot remove the stale socket file " + path + ": " + e.getMessage());
            }
        }
        try {
            AFUNIXServerSocket s = AFUNIXServerSocket.newInstance();
            s.bind(AFUNIXSocketAddress.of(path), 1);
            Object key = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
            LOG.info("vhost-user {}: listening (server mode)", path);
            return new VhostUserListener(path, s, key);
        } catch (IOException e) {
            throw VhostUserException.invalidOperation("cannot listen on vhost-user socket " + path + ": " + e.getMessage());
        }
    }

    private static boolean isSocket(Path path) {
        try {
            BasicFileAttributes a = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            return a.isOther();
        } catch (IOException e) {
            return false;
        }
    }

    private static boolean live(Path path) {
        try (AFUNIXSocket probe = AFUNIXSocket.newInstance()) {
            probe.connect(AFUNIXSocketAddress.of(path), PROBE_TIMEOUT_MILLIS);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Waits for the back-end to connect.
     *
     * @throws VhostUserException ({@code shouldReconnect}) when none connects within {@code timeout}
     */
    VhostUserConnection accept(Duration timeout, Duration replyTimeout) {
        try {
            server.setSoTimeout((int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis())));
            AFUNIXSocket s = server.accept();
            LOG.debug("vhost-user {}: a back-end connected", path);
            return VhostUserConnection.accepted(path, s, replyTimeout);
        } catch (SocketTimeoutException e) {
            throw VhostUserException.socketFailure("no vhost-user back-end connected to " + path + " (server mode) within "
                    + timeout.toMillis() + " ms", e);
        } catch (IOException e) {
            throw VhostUserException.socketFailure("accepting on vhost-user socket " + path + ": " + e.getMessage(), e);
        }
    }

    Path path() {
        return path;
    }

    /** Stops listening and removes the socket file when it is still the one this listener created. */
    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException e) {
            LOG.debug("vhost-user {}: closing the listener: {}", path, e.toString());
        }
        try {
            Object now = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
            if (fileKey != null && fileKey.equals(now)) {
                Files.deleteIfExists(path);
            }
        } catch (IOException e) {
            // gone already, or not ours to remove
        }
    }
}
