package io.jvirtio.spec.vhostuser;

import java.nio.ByteBuffer;

/**
 * "Single memory region description" (ADD_MEM_REG, REM_MEM_REG): {@code padding u64}, then one
 * region.
 *
 * @param region the region
 */
public record VhostUserSingleMemoryRegion(VhostUserMemoryRegion region) implements VhostUserPayload {
    /** Encoded size: padding u64 plus a region. */
    public static final int SIZE = 8 + VhostUserMemoryRegion.SIZE;
    public static final int PADDING_OFFSET = 0;
    public static final int REGION_OFFSET = 8;

    @Override
    public int size() {
        return SIZE;
    }

    @Override
    public void encode(ByteBuffer buf) {
        buf.putLong(0);
        region.encode(buf);
    }

    /** Decodes a payload of exactly {@link #SIZE} bytes. */
    public static VhostUserSingleMemoryRegion decode(ByteBuffer buf) {
        VhostUserPayload.requireSize("single memory region", buf, SIZE);
        buf.getLong();
        return new VhostUserSingleMemoryRegion(VhostUserMemoryRegion.read(buf));
    }
}
