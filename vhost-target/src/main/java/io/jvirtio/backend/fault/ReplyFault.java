package io.jvirtio.backend.fault;

/** Ways to answer a front-end message wrongly, to test how a front-end copes with a bad back-end. */
public enum ReplyFault {
    /** The reply carries another request code (the request's code + 1). */
    WRONG_REQUEST_CODE,
    /** The reply's payload is 4 bytes longer than its type requires (the size field says so). */
    WRONG_SIZE,
    /** The REPLY flag (bit 2) is missing from the reply's flags. */
    NO_REPLY_FLAG,
    /** The reply's version field is 2 instead of 1. */
    BAD_VERSION,
    /** A reply that must carry a file descriptor (GET_INFLIGHT_FD) carries none. */
    MISSING_FD,
    /** No reply at all: the front-end waits in vain. */
    NO_REPLY,
    /** A REPLY_ACK answer of 1 (failure) although the message was executed; for requests without a reply body. */
    NACK
}
