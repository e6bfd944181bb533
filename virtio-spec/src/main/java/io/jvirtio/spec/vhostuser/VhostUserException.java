package io.jvirtio.spec.vhostuser;

import io.jvirtio.spec.VirtioException;

/**
 * A vhost-user failure: the socket cannot be reached, or the back-end sent a malformed, late or
 * negative reply. Messages name the socket path, the request and the offending value.
 */
public class VhostUserException extends VirtioException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what went wrong, naming the socket, the request and the value
     */
    public VhostUserException(String message) {
        super(message);
    }

    /**
     * @param message what went wrong, naming the socket, the request and the value
     * @param cause   the underlying error
     */
    public VhostUserException(String message, Throwable cause) {
        super(message, cause);
    }
}
