package io.jvirtio.spec;

/**
 * Root of every error jvirtio raises. Unchecked, as I/O paths report errors through completion
 * callbacks and setup paths are expected to fail loudly. Messages name the device, queue or message
 * and the offending value.
 */
public class VirtioException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what went wrong, naming the thing and the value
     */
    public VirtioException(String message) {
        super(message);
    }

    /**
     * @param message what went wrong, naming the thing and the value
     * @param cause   the underlying error
     */
    public VirtioException(String message, Throwable cause) {
        super(message, cause);
    }
}
