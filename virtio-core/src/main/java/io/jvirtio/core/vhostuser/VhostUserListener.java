package io.jvirtio.core.vhostuser;

import io.jvirtio.spec.vhostuser.SocketInUseException;
import io.jvirtio.spec.vhostuser.VhostUserException;
import io.jvirtio.sys.OwnedServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The listening socket of a front-end in server mode (DPDK virtio_user's {@code server=1}): the
 * back-end connects to it, at the start and again after every restart, so it stays open for the
 * life of the device. It never takes over a socket path another process serves, and removes on
 * close only the socket file it created.
 */
final class VhostUserListener implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VhostUserListener.class);
    private final OwnedServerSocket socket;

    private VhostUserListener(OwnedServerSocket socket) {
        this.socket = socket;
    }

    /**
     * Listens on {@code path} by the rules of {@link OwnedServerSocket}: a stale socket file
     * (nothing accepts) is replaced; a live one, or anything that is not a socket, is refused.
     *
     * @throws VhostUserException naming the path: it is served by a live listener, is not a socket, or cannot be bound
     */
    static VhostUserListener bind(Path path) {
        try {
            OwnedServerSocket s = OwnedServerSocket.bind(path, 1);
            LOG.info("vhost-user {}: listening (server mode){}", path, s.replacedStale() ? ", replaced a stale socket file" : "");
            return new VhostUserListener(s);
        } catch (SocketInUseException e) {
            throw VhostUserException.invalidOperation("vhost-user " + e.getMessage());
        } catch (IOException e) {
            throw VhostUserException.invalidOperation("cannot listen on vhost-user socket " + path + ": " + e.getMessage());
        }
    }

    /**
     * Waits for the back-end to connect.
     *
     * @throws VhostUserException ({@code shouldReconnect}) when none connects within {@code timeout}
     */
    VhostUserConnection accept(Duration timeout, Duration replyTimeout) {
        try {
            socket.server().setSoTimeout((int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis())));
            AFUNIXSocket s = socket.server().accept();
            LOG.debug("vhost-user {}: a back-end connected", socket.path());
            return VhostUserConnection.accepted(socket.path(), s, replyTimeout);
        } catch (SocketTimeoutException e) {
            throw VhostUserException.socketFailure("no vhost-user back-end connected to " + socket.path() + " (server mode) within "
                    + timeout.toMillis() + " ms", e);
        } catch (IOException e) {
            throw VhostUserException.socketFailure("accepting on vhost-user socket " + socket.path() + ": " + e.getMessage(), e);
        }
    }

    Path path() {
        return socket.path();
    }

    /** Stops listening and removes the socket file when it is still the one this listener created. */
    @Override
    public void close() {
        OwnedServerSocket.Removal r = socket.close();
        if (r == OwnedServerSocket.Removal.REPLACED) {
            LOG.warn("vhost-user {}: the path holds another file now; left alone", socket.path());
        }
    }
}
