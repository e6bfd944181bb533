package io.jvirtio.scsi;

import io.jvirtio.spec.VirtioException;

/** A scan command could not be run (timeout, broken queue). */
final class ScanException extends VirtioException {
    private static final long serialVersionUID = 1L;

    ScanException(String message) {
        super(message);
    }

    ScanException(String message, Throwable cause) {
        super(message, cause);
    }
}
