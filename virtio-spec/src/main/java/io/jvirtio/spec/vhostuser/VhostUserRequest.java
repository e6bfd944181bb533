package io.jvirtio.spec.vhostuser;

/**
 * Front-end request codes of the vhost-user protocol (QEMU {@code docs/interop/vhost-user.rst},
 * "Front-end message types"), each with whether the back-end answers it with an explicit reply
 * body (as opposed to a REPLY_ACK, which any request may ask for).
 */
public enum VhostUserRequest {
    GET_FEATURES(1, true),
    SET_FEATURES(2, false),
    SET_OWNER(3, false),
    /** Deprecated by the spec; listed so that its code is recognised. */
    RESET_OWNER(4, false),
    SET_MEM_TABLE(5, false),
    SET_LOG_BASE(6, false),
    SET_LOG_FD(7, false),
    SET_VRING_NUM(8, false),
    SET_VRING_ADDR(9, false),
    SET_VRING_BASE(10, false),
    GET_VRING_BASE(11, true),
    SET_VRING_KICK(12, false),
    SET_VRING_CALL(13, false),
    SET_VRING_ERR(14, false),
    GET_PROTOCOL_FEATURES(15, true),
    SET_PROTOCOL_FEATURES(16, false),
    GET_QUEUE_NUM(17, true),
    SET_VRING_ENABLE(18, false),
    SEND_RARP(19, false),
    NET_SET_MTU(20, false),
    SET_BACKEND_REQ_FD(21, false),
    IOTLB_MSG(22, true),
    SET_VRING_ENDIAN(23, false),
    GET_CONFIG(24, true),
    SET_CONFIG(25, false),
    CREATE_CRYPTO_SESSION(26, true),
    CLOSE_CRYPTO_SESSION(27, false),
    POSTCOPY_ADVISE(28, true),
    POSTCOPY_LISTEN(29, false),
    POSTCOPY_END(30, true),
    GET_INFLIGHT_FD(31, true),
    SET_INFLIGHT_FD(32, false),
    GPU_SET_SOCKET(33, false),
    RESET_DEVICE(34, false),
    VRING_KICK(35, false),
    GET_MAX_MEM_SLOTS(36, true),
    ADD_MEM_REG(37, false),
    REM_MEM_REG(38, false),
    SET_STATUS(39, false),
    GET_STATUS(40, true);

    private static final VhostUserRequest[] BY_CODE = new VhostUserRequest[64];

    static {
        for (VhostUserRequest r : values()) {
            BY_CODE[r.code] = r;
        }
    }

    private final int code;
    private final boolean hasReply;

    VhostUserRequest(int code, boolean hasReply) {
        this.code = code;
        this.hasReply = hasReply;
    }

    /** @return the request code on the wire */
    public int code() {
        return code;
    }

    /** @return whether the back-end always answers with a reply body (GET_FEATURES, GET_VRING_BASE, ...) */
    public boolean hasReply() {
        return hasReply;
    }

    /** @return the spec's name, e.g. {@code VHOST_USER_GET_FEATURES} */
    public String specName() {
        return "VHOST_USER_" + name();
    }

    /**
     * @param code a request code read from the wire
     * @return the request, or null when the code is not a known front-end request
     */
    public static VhostUserRequest fromCode(int code) {
        return code > 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }

    /** @return e.g. {@code 2 (VHOST_USER_SET_FEATURES)} or {@code 99 (unknown)} for any code */
    public static String describe(int code) {
        VhostUserRequest r = fromCode(code);
        return Integer.toUnsignedString(code) + " (" + (r == null ? "unknown" : r.specName()) + ")";
    }

    @Override
    public String toString() {
        return specName();
    }
}
