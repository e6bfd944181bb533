package io.jvirtio.testkit.guest;

/** A guest run that failed, could not start, or did not finish; the message holds the diagnosis. */
public final class GuestException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient GuestResult result;

    /**
     * @param message the diagnosis
     * @param result  the run, or {@code null} when QEMU could not be started
     */
    public GuestException(String message, GuestResult result) {
        super(message);
        this.result = result;
    }

    /**
     * @param message the diagnosis
     * @param cause   what went wrong on the host
     */
    public GuestException(String message, Throwable cause) {
        super(message, cause);
        this.result = null;
    }

    /** @return the run, or {@code null} when there was none */
    public GuestResult result() {
        return result;
    }
}
