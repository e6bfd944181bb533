package io.jvirtio.core.ring;

/**
 * The ways a device can break the split ring's rules, each detected by {@link SplitVirtqueue#poll}
 * before anything is trusted (the checks Linux's {@code virtqueue_get_buf_ctx_split} makes).
 */
public enum RingViolation {
    /** A used element's {@code id} is not a descriptor index (>= queue size). */
    ID_OUT_OF_RANGE,
    /** A used element's {@code id} is a descriptor index, but not the head of a request the device was given. */
    ID_NOT_IN_FLIGHT,
    /** A used element's {@code len} exceeds the device-writable bytes posted for that request. */
    LEN_TOO_LARGE,
    /** used.idx moved by more than the number of requests the device was given (or went backwards). */
    USED_INDEX_JUMP
}
