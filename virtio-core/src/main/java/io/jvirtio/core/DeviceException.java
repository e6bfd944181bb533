package io.jvirtio.core;

import io.jvirtio.spec.VirtioException;

/** The device refused or broke the virtio protocol: features, status, config, queue setup. */
public class DeviceException extends VirtioException {
    private static final long serialVersionUID = 1L;

    /** @param message names the device and the offending value */
    public DeviceException(String message) {
        super(message);
    }

    /**
     * @param message names the device and the offending value
     * @param cause   the underlying error
     */
    public DeviceException(String message, Throwable cause) {
        super(message, cause);
    }
}
