package io.jvirtio.spec.vhostuser;

import java.nio.ByteBuffer;

/**
 * The u64 of SET_VRING_KICK / SET_VRING_CALL / SET_VRING_ERR: bits 0–7 the vring index, bit 8
 * set when no file descriptor travels with the message (the back-end then polls).
 *
 * @param index the vring index, 0–255
 * @param noFd  whether the invalid-fd flag is set
 */
public record VhostUserVringFile(int index, boolean noFd) implements VhostUserPayload {
    /** Encoded size. */
    public static final int SIZE = 8;
    /** {@code VHOST_USER_VRING_IDX_MASK}. */
    public static final long INDEX_MASK = 0xff;
    /** {@code VHOST_USER_VRING_NOFD_MASK}. */
    public static final long NOFD_MASK = 0x100;

    /** @throws IllegalArgumentException when the index does not fit in 8 bits */
    public VhostUserVringFile {
        if (index < 0 || index > INDEX_MASK) {
            throw new IllegalArgumentException("vring index " + index + " does not fit the 8-bit field of a vring fd message");
        }
    }

    /** @return the wire value */
    public long toU64() {
        return index | (noFd ? NOFD_MASK : 0);
    }

    @Override
    public int size() {
        return SIZE;
    }

    @Override
    public void encode(ByteBuffer buf) {
        buf.putLong(toU64());
    }

    /** Decodes a payload of exactly {@link #SIZE} bytes; bits above 8 must be clear. */
    public static VhostUserVringFile decode(ByteBuffer buf) {
        VhostUserPayload.requireSize("vring file", buf, SIZE);
        long v = buf.getLong();
        if ((v & ~(INDEX_MASK | NOFD_MASK)) != 0) {
            throw VhostUserException.protocolError("vring file payload 0x" + Long.toHexString(v) + " has bits beyond the index and NOFD flag");
        }
        return new VhostUserVringFile((int) (v & INDEX_MASK), (v & NOFD_MASK) != 0);
    }
}
