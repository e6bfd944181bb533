package io.jvirtio.spec.vhostuser;

/**
 * vhost-user protocol feature bits ({@code VHOST_USER_PROTOCOL_F_*}), exchanged with
 * GET/SET_PROTOCOL_FEATURES once {@code VHOST_USER_F_PROTOCOL_FEATURES} (virtio feature bit 30)
 * is offered.
 */
public final class VhostUserProtocolFeature {
    public static final int MQ = 0;
    public static final int LOG_SHMFD = 1;
    public static final int RARP = 2;
    public static final int REPLY_ACK = 3;
    public static final int MTU = 4;
    /** Called SLAVE_REQ in older versions of the spec. */
    public static final int BACKEND_REQ = 5;
    public static final int CROSS_ENDIAN = 6;
    public static final int CRYPTO_SESSION = 7;
    public static final int PAGEFAULT = 8;
    public static final int CONFIG = 9;
    /** Called SLAVE_SEND_FD in older versions of the spec. */
    public static final int BACKEND_SEND_FD = 10;
    public static final int HOST_NOTIFIER = 11;
    public static final int INFLIGHT_SHMFD = 12;
    public static final int RESET_DEVICE = 13;
    public static final int INBAND_NOTIFICATIONS = 14;
    public static final int CONFIGURE_MEM_SLOTS = 15;
    public static final int STATUS = 16;

    /** The protocol features this front-end knows how to use. */
    public static final long SUPPORTED = bit(MQ) | bit(REPLY_ACK) | bit(CONFIG) | bit(RESET_DEVICE)
            | bit(CONFIGURE_MEM_SLOTS) | bit(STATUS) | bit(INFLIGHT_SHMFD);

    private static final String[] NAMES = {"MQ", "LOG_SHMFD", "RARP", "REPLY_ACK", "MTU", "BACKEND_REQ",
        "CROSS_ENDIAN", "CRYPTO_SESSION", "PAGEFAULT", "CONFIG", "BACKEND_SEND_FD", "HOST_NOTIFIER",
        "INFLIGHT_SHMFD", "RESET_DEVICE", "INBAND_NOTIFICATIONS", "CONFIGURE_MEM_SLOTS", "STATUS"};

    private VhostUserProtocolFeature() {
    }

    /** @return the mask of one protocol feature bit */
    public static long bit(int feature) {
        return 1L << feature;
    }

    /** @return whether {@code mask} has {@code feature} */
    public static boolean has(long mask, int feature) {
        return (mask & bit(feature)) != 0;
    }

    /** @return the spec name of a bit, e.g. {@code REPLY_ACK}, or {@code bit 42} */
    public static String name(int feature) {
        return feature >= 0 && feature < NAMES.length ? NAMES[feature] : "bit " + feature;
    }

    /** @return e.g. {@code 0x209 (MQ|REPLY_ACK|CONFIG)} */
    public static String describe(long mask) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Long.SIZE; i++) {
            if ((mask & (1L << i)) != 0) {
                sb.append(sb.isEmpty() ? "" : "|").append(name(i));
            }
        }
        return "0x" + Long.toHexString(mask) + " (" + sb + ")";
    }
}
