package io.jvirtio.spec.vhostuser;

import java.nio.ByteBuffer;

/**
 * "A single 64-bit integer": features, protocol features, queue count, status, and the REPLY_ACK
 * answer (0 for success).
 *
 * @param value the integer, unsigned on the wire
 */
public record VhostUserU64(long value) implements VhostUserPayload {
    /** Encoded size. */
    public static final int SIZE = 8;

    @Override
    public int size() {
        return SIZE;
    }

    @Override
    public void encode(ByteBuffer buf) {
        buf.putLong(value);
    }

    /** Decodes a payload of exactly {@link #SIZE} bytes. */
    public static VhostUserU64 decode(ByteBuffer buf) {
        VhostUserPayload.requireSize("u64", buf, SIZE);
        return new VhostUserU64(buf.getLong());
    }

    @Override
    public String toString() {
        return "u64=0x" + Long.toHexString(value);
    }
}
