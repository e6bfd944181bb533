package io.jvirtio.spec.vhostuser;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * "Virtio device config space" (GET_CONFIG, SET_CONFIG): {@code offset u32, size u32, flags u32},
 * then {@code size} bytes of config space. A GET_CONFIG reply whose size is 0 means the back-end
 * refused.
 *
 * @param offset  the offset in config space
 * @param flags   {@link #FLAG_WRITABLE} or {@link #FLAG_MIGRATION}
 * @param payload the config bytes, at most {@link #MAX_CONFIG_SIZE}; its length is the size field
 */
public record VhostUserConfig(int offset, int flags, byte[] payload) implements VhostUserPayload {
    /** {@code VHOST_USER_MAX_CONFIG_SIZE}. */
    public static final int MAX_CONFIG_SIZE = 256;
    /** offset, size, flags: three u32. */
    public static final int HEADER_SIZE = 12;
    public static final int OFFSET_OFFSET = 0;
    public static final int SIZE_OFFSET = 4;
    public static final int FLAGS_OFFSET = 8;
    public static final int PAYLOAD_OFFSET = 12;
    /** {@code VHOST_SET_CONFIG_TYPE_FRONTEND}: a driver write to a writable field. */
    public static final int FLAG_WRITABLE = 0;
    /** {@code VHOST_SET_CONFIG_TYPE_MIGRATION}: live migration restore. */
    public static final int FLAG_MIGRATION = 1;

    /** @throws IllegalArgumentException on a range outside the 256-byte config space or unknown flags */
    public VhostUserConfig {
        if (payload.length > MAX_CONFIG_SIZE || offset < 0 || offset > MAX_CONFIG_SIZE - payload.length) {
            throw new IllegalArgumentException("config range offset=" + Integer.toUnsignedString(offset) + " size=" + payload.length
                    + " exceeds the " + MAX_CONFIG_SIZE + "-byte vhost-user config space");
        }
        if (flags != FLAG_WRITABLE && flags != FLAG_MIGRATION) {
            throw new IllegalArgumentException("unknown config flags 0x" + Integer.toHexString(flags));
        }
        payload = payload.clone();
    }

    /** @return a GET_CONFIG request for {@code size} bytes at {@code offset} (zeroed payload) */
    public static VhostUserConfig request(int offset, int size) {
        return new VhostUserConfig(offset, FLAG_WRITABLE, new byte[size]);
    }

    /** @return the config bytes (a copy) */
    @Override
    public byte[] payload() {
        return payload.clone();
    }

    /** @return the size field: the number of config bytes */
    public int configSize() {
        return payload.length;
    }

    @Override
    public int size() {
        return HEADER_SIZE + payload.length;
    }

    @Override
    public void encode(ByteBuffer buf) {
        buf.putInt(offset).putInt(payload.length).putInt(flags).put(payload);
    }

    /** Decodes a payload whose size field matches the bytes that follow the 12-byte config header. */
    public static VhostUserConfig decode(ByteBuffer buf) {
        if (buf.remaining() < HEADER_SIZE) {
            throw VhostUserException.protocolError("config payload is " + buf.remaining() + " bytes, expected at least " + HEADER_SIZE);
        }
        int offset = buf.getInt();
        int size = buf.getInt();
        int flags = buf.getInt();
        if (Integer.compareUnsigned(size, MAX_CONFIG_SIZE) > 0) {
            throw VhostUserException.protocolError("config payload has size field " + Integer.toUnsignedString(size) + ", at most " + MAX_CONFIG_SIZE);
        }
        VhostUserPayload.requireSize("config (size field " + size + ")", buf, size);
        byte[] bytes = new byte[size];
        buf.get(bytes);
        try {
            return new VhostUserConfig(offset, flags, bytes);
        } catch (IllegalArgumentException e) {
            throw VhostUserException.protocolError(e.getMessage());
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VhostUserConfig c && c.offset == offset && c.flags == flags && Arrays.equals(c.payload, payload);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * offset + flags) + Arrays.hashCode(payload);
    }

    @Override
    public String toString() {
        return "config{offset=" + offset + ", size=" + payload.length + ", flags=" + flags + ", "
                + HexFormat.of().formatHex(payload, 0, Math.min(payload.length, 16)) + (payload.length > 16 ? "...}" : "}");
    }
}
