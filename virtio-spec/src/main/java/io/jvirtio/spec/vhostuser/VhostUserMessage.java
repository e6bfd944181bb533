package io.jvirtio.spec.vhostuser;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A whole vhost-user message: header, then payload, as one byte array in the machine's byte
 * order, ready to be written in a single call (so that the fds attached to it travel with its
 * first byte).
 *
 * @param header  the header; its size field equals the payload's size
 * @param payload the payload, or null for none
 */
public record VhostUserMessage(VhostUserHeader header, VhostUserPayload payload) {
    /** @throws IllegalArgumentException when the header's size field disagrees with the payload */
    public VhostUserMessage {
        int payloadSize = payload == null ? 0 : payload.size();
        if (header.size() != payloadSize) {
            throw new IllegalArgumentException("header size " + header.size() + " but payload of " + payloadSize + " bytes");
        }
        if (payloadSize > VhostUserHeader.MAX_PAYLOAD_SIZE) {
            throw new IllegalArgumentException("payload of " + payloadSize + " bytes exceeds " + VhostUserHeader.MAX_PAYLOAD_SIZE);
        }
    }

    /**
     * @param request   the request
     * @param needReply whether to set NEED_REPLY
     * @param payload   the payload, or null
     * @return a front-end request message
     */
    public static VhostUserMessage request(VhostUserRequest request, boolean needReply, VhostUserPayload payload) {
        return new VhostUserMessage(VhostUserHeader.forRequest(request, needReply, payload == null ? 0 : payload.size()), payload);
    }

    /** @return a buffer in the machine's byte order, for encoding and decoding messages */
    public static ByteBuffer buffer(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.nativeOrder());
    }

    /** @return a buffer in the machine's byte order over {@code bytes} */
    public static ByteBuffer wrap(byte[] bytes) {
        return ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder());
    }

    /** @return header and payload bytes */
    public byte[] toBytes() {
        ByteBuffer buf = buffer(VhostUserHeader.SIZE + header.size());
        header.encode(buf);
        if (payload != null) {
            payload.encode(buf);
        }
        if (buf.hasRemaining()) {
            throw new IllegalStateException(payload + " encoded " + (buf.position() - VhostUserHeader.SIZE)
                    + " bytes, announced " + header.size());
        }
        return buf.array();
    }

    @Override
    public String toString() {
        return header + (payload == null ? "" : " " + payload);
    }
}
