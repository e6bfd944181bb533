package io.jvirtio.spec.vhostuser;

import io.jvirtio.spec.VirtioException;

/**
 * A vhost-user failure: the socket cannot be reached, or the back-end sent a malformed, late or
 * negative reply. Messages name the socket path, the request and the offending value.
 *
 * <p>{@link #shouldReconnect()} says whether a new connection could help, as rust-vmm's
 * {@code vhost_user::Error::should_reconnect} does: true when the socket itself failed (nothing
 * listens yet, the peer hung up, a read or write failed, no reply in time); false when the
 * back-end answered, but wrongly or negatively (a malformed message, an invalid value, a refused
 * request), since a new connection would send the same and get the same.
 *
 * <p>Unlike rust-vmm, a hang-up (EOF; its {@code Disconnected}) and a refused or missing socket
 * (its {@code SocketConnect}) say true here: this front-end is the client, and a back-end that
 * restarts (qemu-storage-daemon, SPDK's vhost app) shows exactly these until it listens again.
 */
public class VhostUserException extends VirtioException {
    private static final long serialVersionUID = 1L;

    private final boolean shouldReconnect;

    /**
     * @param message         what went wrong, naming the socket, the request and the value
     * @param shouldReconnect whether a new connection could help
     * @param cause           the underlying error, or null
     */
    public VhostUserException(String message, boolean shouldReconnect, Throwable cause) {
        super(message, cause);
        this.shouldReconnect = shouldReconnect;
    }

    /**
     * @param message what went wrong, naming the socket, the request and the value
     * @param cause   the socket error, or null
     * @return a failure of the socket itself: unreachable, hung up, broken, silent ({@link #shouldReconnect()} true)
     */
    public static VhostUserException socketFailure(String message, Throwable cause) {
        return new VhostUserException(message, true, cause);
    }

    /**
     * @param message what went wrong, naming the socket, the request and the value
     * @return a malformed, invalid or refused message ({@link #shouldReconnect()} false)
     */
    public static VhostUserException protocolError(String message) {
        return new VhostUserException(message, false, null);
    }

    /**
     * @param message what went wrong, naming the socket, the request and the value
     * @return a call this front-end cannot make in its state or with this input: the connection is
     *         closed, the queue is not set up, the device needs a reset, the path is too long
     *         (rust-vmm's {@code InvalidOperation} / {@code InvalidParam}; {@link #shouldReconnect()} false)
     */
    public static VhostUserException invalidOperation(String message) {
        return new VhostUserException(message, false, null);
    }

    /** @return whether reconnecting to the back-end could help (false: it would fail the same way) */
    public boolean shouldReconnect() {
        return shouldReconnect;
    }
}
