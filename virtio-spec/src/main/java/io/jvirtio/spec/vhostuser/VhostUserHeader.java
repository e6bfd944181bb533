package io.jvirtio.spec.vhostuser;

import java.nio.ByteBuffer;

/**
 * The 12-byte vhost-user message header: {@code request u32, flags u32, size u32}, in the
 * machine's byte order.
 *
 * @param request the request code ({@link VhostUserRequest#code()})
 * @param flags   version (bits 0–1), REPLY (bit 2), NEED_REPLY (bit 3)
 * @param size    the payload size that follows the header, unsigned
 */
public record VhostUserHeader(int request, int flags, int size) {
    /** Header size in bytes. */
    public static final int SIZE = 12;
    public static final int REQUEST_OFFSET = 0;
    public static final int FLAGS_OFFSET = 4;
    public static final int SIZE_OFFSET = 8;

    /** Flags bits 0–1: the protocol version. */
    public static final int VERSION_MASK = 0x3;
    /** The only protocol version there is. */
    public static final int VERSION = 0x1;
    /** Set on every reply from the back-end. */
    public static final int FLAG_REPLY = 0x4;
    /** The front-end asks for a REPLY_ACK (only when {@link VhostUserProtocolFeature#REPLY_ACK} was negotiated). */
    public static final int FLAG_NEED_REPLY = 0x8;
    /** Every flag bit the spec defines; any other bit makes a header invalid. */
    public static final int KNOWN_FLAGS = VERSION_MASK | FLAG_REPLY | FLAG_NEED_REPLY;

    /**
     * The largest payload this front-end sends or accepts (rust-vmm's {@code MAX_MSG_SIZE}); the
     * largest it actually uses is SET_MEM_TABLE with 8 regions (264 bytes) or a 256-byte config.
     */
    public static final int MAX_PAYLOAD_SIZE = 0x1000;

    /**
     * @param request   the request
     * @param needReply whether to set NEED_REPLY
     * @param size      the payload size
     * @return a front-end request header, version 1
     */
    public static VhostUserHeader forRequest(VhostUserRequest request, boolean needReply, int size) {
        return new VhostUserHeader(request.code(), VERSION | (needReply ? FLAG_NEED_REPLY : 0), size);
    }

    /** @return the version field */
    public int version() {
        return flags & VERSION_MASK;
    }

    /** @return whether REPLY is set */
    public boolean isReply() {
        return (flags & FLAG_REPLY) != 0;
    }

    /** @return whether NEED_REPLY is set */
    public boolean needsReply() {
        return (flags & FLAG_NEED_REPLY) != 0;
    }

    /** Writes the 12 header bytes at the buffer's position, advancing it. */
    public void encode(ByteBuffer buf) {
        int at = buf.position();
        buf.putInt(at + REQUEST_OFFSET, request);
        buf.putInt(at + FLAGS_OFFSET, flags);
        buf.putInt(at + SIZE_OFFSET, size);
        buf.position(at + SIZE);
    }

    /**
     * Reads 12 header bytes at the buffer's position, advancing it. Validates nothing: see
     * {@link #checkReplyTo}.
     */
    public static VhostUserHeader decode(ByteBuffer buf) {
        if (buf.remaining() < SIZE) {
            throw VhostUserException.protocolError("header needs " + SIZE + " bytes, got " + buf.remaining());
        }
        int at = buf.position();
        VhostUserHeader h = new VhostUserHeader(buf.getInt(at + REQUEST_OFFSET), buf.getInt(at + FLAGS_OFFSET),
                buf.getInt(at + SIZE_OFFSET));
        buf.position(at + SIZE);
        return h;
    }

    /**
     * Checks that this header is a well-formed reply to {@code sent}: version 1, REPLY set, no
     * unknown flag, the same request code, a payload size within {@link #MAX_PAYLOAD_SIZE}.
     * The exact size is the payload type's business.
     *
     * @throws VhostUserException naming the request and the offending field
     */
    public void checkReplyTo(VhostUserRequest sent) {
        if (request != sent.code()) {
            throw VhostUserException.protocolError("reply to " + sent + " carries request code " + VhostUserRequest.describe(request));
        }
        if (version() != VERSION) {
            throw VhostUserException.protocolError("reply to " + sent + " has flags 0x" + Integer.toHexString(flags)
                    + ": version " + version() + ", expected " + VERSION);
        }
        if (!isReply()) {
            throw VhostUserException.protocolError("reply to " + sent + " has flags 0x" + Integer.toHexString(flags)
                    + ": REPLY flag (0x" + Integer.toHexString(FLAG_REPLY) + ") not set");
        }
        if ((flags & ~KNOWN_FLAGS) != 0) {
            throw VhostUserException.protocolError("reply to " + sent + " has flags 0x" + Integer.toHexString(flags)
                    + ": unknown bits 0x" + Integer.toHexString(flags & ~KNOWN_FLAGS));
        }
        if (Integer.compareUnsigned(size, MAX_PAYLOAD_SIZE) > 0) {
            throw VhostUserException.protocolError("reply to " + sent + " announces payload size " + Integer.toUnsignedString(size)
                    + ", more than the maximum " + MAX_PAYLOAD_SIZE);
        }
    }

    @Override
    public String toString() {
        return VhostUserRequest.describe(request) + " flags=0x" + Integer.toHexString(flags) + " size=" + Integer.toUnsignedString(size);
    }
}
