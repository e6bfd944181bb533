package io.jvirtio.backend.fault;

/**
 * Malicious used-ring writes: what a broken or hostile device may publish instead of a correct
 * used element. Each is one of the violations a hardened driver must detect (Linux's
 * {@code virtqueue_get_buf_ctx_split} checks, jvirtio's {@code RingViolation}).
 */
public enum UsedRingFault {
    /** The used element's {@code id} is not a descriptor index (queue size + 7). */
    ID_OUT_OF_RANGE,
    /** The used element's {@code id} is a descriptor index the driver has not made available (the real request is lost). */
    ID_NOT_IN_FLIGHT,
    /** The used element's {@code len} exceeds the device-writable bytes of the request by 4096. */
    LEN_TOO_LARGE,
    /** The element is correct but {@code used.idx} advances by queue size + 1 instead of 1. */
    USED_INDEX_JUMP
}
