package io.jvirtio.core.vfio;

import io.jvirtio.spec.VirtioException;

/** A VFIO step failed; the message names the PCI function, the step and, where there is one, the fix. */
public class VfioException extends VirtioException {
    /** @param message names the function, the step and the fix */
    public VfioException(String message) {
        super(message);
    }

    /** @param message names the function, the step and the fix; @param cause the native failure */
    public VfioException(String message, Throwable cause) {
        super(message, cause);
    }
}
