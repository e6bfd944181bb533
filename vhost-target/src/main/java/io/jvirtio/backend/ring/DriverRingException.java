package io.jvirtio.backend.ring;

/**
 * The driver broke the split ring's rules (a head out of range, a descriptor loop, a buffer outside
 * the memory table, ...). The device stops trusting that connection: the message names the queue,
 * the descriptor and the offending value.
 */
public final class DriverRingException extends RuntimeException {
    /** @param message what the driver did wrong, with the values */
    public DriverRingException(String message) {
        super(message);
    }
}
