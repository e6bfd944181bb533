package io.jvirtio.backend.vhost;

/**
 * The front-end sent something this back-end must refuse (unknown request, wrong size, too many
 * fds, a bad memory table, a queue index out of range, ...). The message names the request and the
 * offending value; the connection is closed, the device keeps serving.
 */
public final class ProtocolException extends Exception {
    /** @param message the request and the value */
    public ProtocolException(String message) {
        super(message);
    }

    /** @param message the request and the value; @param cause the underlying failure */
    public ProtocolException(String message, Throwable cause) {
        super(message, cause);
    }
}
