package io.jvirtio.core.ring;

/**
 * The ways a device can break a ring's rules, each detected by {@link Virtqueue#poll} before anything
 * is trusted (the checks Linux's {@code virtqueue_get_buf_ctx_split} and {@code _packed} make).
 */
public enum RingViolation {
    /** A used element's {@code id} is not a descriptor index (>= queue size). */
    ID_OUT_OF_RANGE,
    /** A used element's {@code id} is a descriptor index, but not the head of a request the device was given. */
    ID_NOT_IN_FLIGHT,
    /** A used element's {@code len} exceeds the device-writable bytes posted for that request. */
    LEN_TOO_LARGE,
    /**
     * used.idx moved by more than the number of requests the device was given (or went backwards); in a
     * packed ring, a descriptor marked used while no request is in flight.
     */
    USED_INDEX_JUMP,
    /**
     * Packed ring only: the next used slot holds a flag pattern the device can never have written there
     * while a request is in flight (AVAIL and USED equal but not the used wrap counter, or the avail bits
     * of the wrong lap).
     */
    USED_FLAGS_INVALID
}
