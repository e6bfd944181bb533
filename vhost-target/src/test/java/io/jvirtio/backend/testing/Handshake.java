package io.jvirtio.backend.testing;

import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import io.jvirtio.spec.vhostuser.VhostUserU64;

import java.io.IOException;

/** The usual opening of a vhost-user connection, for scripted tests. */
public final class Handshake {
    private Handshake() {
    }

    /** What the opening negotiated. */
    public record Negotiated(long features, long protocolFeatures) {
    }

    /**
     * SET_OWNER, GET_FEATURES, GET/SET_PROTOCOL_FEATURES (everything offered, masked by
     * {@code protocolMask}), then SET_FEATURES with everything offered except {@code featureMask}'s
     * complement, and never VIRTIO_F_RING_PACKED: the scripted {@link DriverRing} is a split ring. Turns
     * REPLY_ACK on in the script when negotiated.
     */
    public static Negotiated open(ScriptedFrontEnd fe, long protocolMask, long featureMask) throws IOException {
        fe.send(VhostUserRequest.SET_OWNER, null);
        long features = fe.callU64(VhostUserRequest.GET_FEATURES);
        long protocol = 0;
        if (VirtioFeatures.has(features, VirtioFeatures.VHOST_USER_F_PROTOCOL_FEATURES)) {
            protocol = fe.callU64(VhostUserRequest.GET_PROTOCOL_FEATURES) & protocolMask;
            fe.send(VhostUserRequest.SET_PROTOCOL_FEATURES, new VhostUserU64(protocol));
            fe.useReplyAck((protocol & (1L << 3)) != 0);
        }
        long acked = features & featureMask & ~VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_RING_PACKED);
        fe.command(VhostUserRequest.SET_FEATURES, new VhostUserU64(acked));
        return new Negotiated(acked, protocol);
    }

    /** Everything offered. */
    public static Negotiated open(ScriptedFrontEnd fe) throws IOException {
        return open(fe, -1L, -1L);
    }
}
