package io.jvirtio.spec.vhostuser;

import java.nio.ByteBuffer;

/**
 * "Inflight description" (GET_INFLIGHT_FD, SET_INFLIGHT_FD): {@code mmap_size u64, mmap_offset u64,
 * num_queues u16, queue_size u16}, padded to 24 bytes as QEMU's and libvhost-user's C struct is.
 *
 * @param mmapSize   the size of the area
 * @param mmapOffset where it starts in the fd
 * @param numQueues  the number of queues it covers
 * @param queueSize  the size of each queue
 */
public record VhostUserInflight(long mmapSize, long mmapOffset, int numQueues, int queueSize) implements VhostUserPayload {
    /** Encoded size, with the C struct's 4 bytes of tail padding. */
    public static final int SIZE = 24;

    @Override
    public int size() {
        return SIZE;
    }

    @Override
    public void encode(ByteBuffer buf) {
        buf.putLong(mmapSize).putLong(mmapOffset).putShort((short) numQueues).putShort((short) queueSize).putInt(0);
    }

    /** @throws VhostUserException on a payload of the wrong size */
    public static VhostUserInflight decode(ByteBuffer buf) {
        VhostUserPayload.requireSize("inflight description", buf, SIZE);
        return new VhostUserInflight(buf.getLong(), buf.getLong(), Short.toUnsignedInt(buf.getShort()), Short.toUnsignedInt(buf.getShort()));
    }
}
