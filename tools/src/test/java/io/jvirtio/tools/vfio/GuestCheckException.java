package io.jvirtio.tools.vfio;

/** A guest scenario's check failed: the message says what was expected and what came instead. */
final class GuestCheckException extends RuntimeException {
    GuestCheckException(String message) {
        super(message);
    }

    /** @throws GuestCheckException with {@code message} unless {@code condition} */
    static void check(boolean condition, String message) {
        if (!condition) {
            throw new GuestCheckException(message);
        }
    }
}
