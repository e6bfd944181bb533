package io.jvirtio.tools;

/**
 * A bad command line found while a command runs (a value that only the device can judge, or two
 * options that do not go together). Its message names the option and the value and is shown as
 * is; the exit status is 2.
 */
final class UserError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UserError(String message) {
        super(message);
    }
}
