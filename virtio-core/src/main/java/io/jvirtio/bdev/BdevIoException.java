package io.jvirtio.bdev;

import io.jvirtio.core.VirtioException;

/** An I/O was refused or failed: bad arguments, a read-only device, an error status from the device. */
public class BdevIoException extends VirtioException {
    private static final long serialVersionUID = 1L;

    /** @param message names the bdev, the request and the offending value */
    public BdevIoException(String message) {
        super(message);
    }

    /**
     * @param message names the bdev, the request and the offending value
     * @param cause   the underlying error
     */
    public BdevIoException(String message, Throwable cause) {
        super(message, cause);
    }
}
