package io.jvirtio.core.ring;

import io.jvirtio.spec.VirtioException;

/**
 * A device broke the virtqueue's rules. The message names the queue, the violation and the values,
 * e.g. {@code virtqueue blk0-q0 (index 0): used element 3 has id 4711, out of range (queue size 128)}.
 * Delivered to every request in flight when the queue breaks, and thrown by
 * {@link Virtqueue#reqStart(Object, int)} on a broken queue.
 */
public final class RingViolationException extends VirtioException {
    private static final long serialVersionUID = 1L;

    private final RingViolation violation;

    /**
     * @param violation which rule was broken
     * @param message   the queue, the violation and the offending values
     */
    public RingViolationException(RingViolation violation, String message) {
        super(message);
        this.violation = violation;
    }

    /**
     * @param violation which rule was broken
     * @param message   the queue, the violation and the offending values
     * @param cause     the original violation, when this reports it again
     */
    public RingViolationException(RingViolation violation, String message, Throwable cause) {
        super(message, cause);
        this.violation = violation;
    }

    /** @return which rule the device broke */
    public RingViolation violation() {
        return violation;
    }
}
