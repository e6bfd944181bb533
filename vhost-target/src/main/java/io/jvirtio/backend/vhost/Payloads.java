package io.jvirtio.backend.vhost;

import io.jvirtio.spec.vhostuser.VhostUserException;

import java.nio.ByteBuffer;
import java.util.function.Function;

/** Boundary checks shared by the message handlers: exact payload types and fd counts. */
final class Payloads {
    private Payloads() {
    }

    static <T> T decode(FrontendMessage m, Function<ByteBuffer, T> decoder) throws ProtocolException {
        try {
            return decoder.apply(m.body());
        } catch (VhostUserException | IllegalArgumentException e) {
            throw new ProtocolException(m.name() + ": " + e.getMessage());
        }
    }

    static void noPayload(FrontendMessage m) throws ProtocolException {
        if (m.header().size() != 0) {
            throw new ProtocolException(m.name() + ": payload of " + Integer.toUnsignedString(m.header().size()) + " bytes, expected none");
        }
        noFds(m);
    }

    static void noFds(FrontendMessage m) throws ProtocolException {
        expectFds(m, 0);
    }

    static void expectFds(FrontendMessage m, int n) throws ProtocolException {
        if (m.fds().length != n) {
            throw new ProtocolException(m.name() + ": carries " + m.fds().length + " file descriptor(s), expected " + n);
        }
    }}
