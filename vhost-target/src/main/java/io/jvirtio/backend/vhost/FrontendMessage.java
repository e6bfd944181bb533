package io.jvirtio.backend.vhost;

import io.jvirtio.spec.vhostuser.VhostUserHeader;
import io.jvirtio.spec.vhostuser.VhostUserRequest;

import java.nio.ByteBuffer;

/**
 * One message read from the front-end, checked for a well-formed header only.
 *
 * @param header  the header
 * @param request the request, or null for an unknown code
 * @param payload the payload in machine byte order, position 0
 * @param fds     the file descriptors that came with it (owned by the socket: dup what is kept)
 */
record FrontendMessage(VhostUserHeader header, VhostUserRequest request, ByteBuffer payload, int[] fds) {
    /** @return the spec name, or the code for an unknown request */
    String name() {
        return request != null ? request.specName() : VhostUserRequest.describe(header.request());
    }

    boolean needsReply() {
        return header.needsReply();
    }

    /** @return a fresh view of the payload */
    ByteBuffer body() {
        return payload.duplicate().order(payload.order());
    }
}
