package io.jvirtio.backend.vhost;

import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.vhostuser.VhostUserProtocolFeature;

/** What one connection offered and what the front-end accepted (SET_FEATURES, SET_PROTOCOL_FEATURES). */
final class Negotiation {
    final long offeredFeatures;
    final long offeredProtocol;
    /** SET_FEATURES; 0 before it and after RESET_DEVICE. */
    long features;
    /** SET_PROTOCOL_FEATURES; 0 before it. */
    long protocol;

    Negotiation(long offeredFeatures, long offeredProtocol) {
        this.offeredFeatures = offeredFeatures;
        this.offeredProtocol = offeredProtocol;
    }

    /** @return whether virtio feature {@code bit} was accepted */
    boolean hasFeature(int bit) {
        return VirtioFeatures.has(features, bit);
    }

    /** @return whether protocol feature {@code bit} was accepted */
    boolean hasProtocol(int bit) {
        return VhostUserProtocolFeature.has(protocol, bit);
    }

    /** @return whether rings start enabled: without VHOST_USER_F_PROTOCOL_FEATURES they do (spec "Ring states") */
    boolean ringsStartEnabled() {
        return !hasFeature(VirtioFeatures.VHOST_USER_F_PROTOCOL_FEATURES);
    }

    /**
     * @throws ProtocolException naming the message and the feature when {@code feature} was not negotiated
     */
    void requireProtocol(FrontendMessage m, int feature) throws ProtocolException {
        if (!hasProtocol(feature)) {
            throw new ProtocolException(m.name() + ": protocol feature " + VhostUserProtocolFeature.name(feature) + " was not negotiated"
                    + (VhostUserProtocolFeature.has(offeredProtocol, feature) ? " (offered, not accepted by SET_PROTOCOL_FEATURES)" : " (not offered)"));
        }
    }
}
