package io.jvirtio.spec.vhostuser;

import java.nio.ByteBuffer;

/**
 * "A vring address description" (SET_VRING_ADDR). Addresses are front-end user addresses
 * (process virtual addresses) unless VIRTIO_F_IOMMU_PLATFORM was negotiated.
 *
 * @param index the vring index
 * @param flags {@link #FLAG_LOG} or 0
 * @param desc  the descriptor table
 * @param used  the used (device) ring
 * @param avail the available (driver) ring
 * @param log   the guest address for used-ring logging (0 without logging)
 */
public record VhostUserVringAddr(int index, int flags, long desc, long used, long avail, long log) implements VhostUserPayload {
    /** Encoded size: index u32, flags u32, desc, used, avail, log u64. */
    public static final int SIZE = 40;
    public static final int INDEX_OFFSET = 0;
    public static final int FLAGS_OFFSET = 4;
    public static final int DESC_OFFSET = 8;
    public static final int USED_OFFSET = 16;
    public static final int AVAIL_OFFSET = 24;
    public static final int LOG_OFFSET = 32;
    /** {@code VHOST_VRING_F_LOG}: log writes to the used ring. */
    public static final int FLAG_LOG = 0x1;

    /** @throws IllegalArgumentException on a zero ring address or an unknown flag */
    public VhostUserVringAddr {
        if (desc == 0 || used == 0 || avail == 0) {
            throw new IllegalArgumentException("vring " + index + ": null ring address (desc=0x" + Long.toHexString(desc)
                    + ", used=0x" + Long.toHexString(used) + ", avail=0x" + Long.toHexString(avail) + ")");
        }
        if ((flags & ~FLAG_LOG) != 0) {
            throw new IllegalArgumentException("vring " + index + ": unknown vring address flags 0x" + Integer.toHexString(flags));
        }
    }

    @Override
    public int size() {
        return SIZE;
    }

    @Override
    public void encode(ByteBuffer buf) {
        buf.putInt(index).putInt(flags).putLong(desc).putLong(used).putLong(avail).putLong(log);
    }

    /** Decodes a payload of exactly {@link #SIZE} bytes. */
    public static VhostUserVringAddr decode(ByteBuffer buf) {
        VhostUserPayload.requireSize("vring address", buf, SIZE);
        try {
            return new VhostUserVringAddr(buf.getInt(), buf.getInt(), buf.getLong(), buf.getLong(), buf.getLong(), buf.getLong());
        } catch (IllegalArgumentException e) {
            throw VhostUserException.protocolError(e.getMessage());
        }
    }

    @Override
    public String toString() {
        return "vring addr{index=" + index + ", flags=0x" + Integer.toHexString(flags) + ", desc=0x" + Long.toHexString(desc)
                + ", used=0x" + Long.toHexString(used) + ", avail=0x" + Long.toHexString(avail) + ", log=0x" + Long.toHexString(log) + "}";
    }
}
