package io.jvirtio.spec.vhostuser;

import java.nio.ByteBuffer;

/**
 * One vhost-user message body ("Payload" in the spec). Implementations are immutable records
 * that validate their fields on construction and their size on decode. Numbers are in the
 * machine's byte order, as the spec says; buffers handed in and out are in that order.
 */
public interface VhostUserPayload {
    /** @return the encoded size in bytes */
    int size();

    /** Writes {@link #size()} bytes at the buffer's position, advancing it. */
    void encode(ByteBuffer buf);

    /**
     * Checks that a payload about to be decoded has exactly the size its type requires.
     *
     * @param what   the payload type, for the message
     * @param buf    the payload, position to limit
     * @param wanted the required size
     * @throws VhostUserException naming the type, the size found and the size wanted
     */
    static void requireSize(String what, ByteBuffer buf, int wanted) {
        if (buf.remaining() != wanted) {
            throw VhostUserException.protocolError(what + " payload is " + buf.remaining() + " bytes, expected " + wanted);
        }
    }
}
