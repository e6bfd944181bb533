package io.jvirtio.spec.vhostuser;

import java.nio.ByteBuffer;

/**
 * "A vring state description": SET_VRING_NUM, SET_VRING_BASE, GET_VRING_BASE, SET_VRING_ENABLE.
 *
 * @param index the vring index, unsigned
 * @param num   the number (size, base index, enable flag), unsigned
 */
public record VhostUserVringState(int index, int num) implements VhostUserPayload {
    /** Encoded size: index u32, num u32. */
    public static final int SIZE = 8;
    public static final int INDEX_OFFSET = 0;
    public static final int NUM_OFFSET = 4;

    @Override
    public int size() {
        return SIZE;
    }

    @Override
    public void encode(ByteBuffer buf) {
        buf.putInt(index).putInt(num);
    }

    /** Decodes a payload of exactly {@link #SIZE} bytes. */
    public static VhostUserVringState decode(ByteBuffer buf) {
        VhostUserPayload.requireSize("vring state", buf, SIZE);
        return new VhostUserVringState(buf.getInt(), buf.getInt());
    }

    @Override
    public String toString() {
        return "vring state{index=" + Integer.toUnsignedString(index) + ", num=" + Integer.toUnsignedString(num) + "}";
    }
}
