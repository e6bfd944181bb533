package io.jvirtio.backend;

import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.vhostuser.VhostUserProtocolFeature;

import java.time.Duration;
import java.util.Objects;

import static io.jvirtio.spec.vhostuser.VhostUserProtocolFeature.bit;

/**
 * How the vhost-user transport of one device behaves, independent of the device model.
 *
 * @param protocolFeatures the vhost-user protocol features offered, a subset of {@link #SUPPORTED_PROTOCOL_FEATURES}
 *                         (switch some off to play an older back-end)
 * @param hiddenFeatures   virtio feature bits never offered although the model has them (e.g.
 *                         VIRTIO_RING_F_EVENT_IDX, or VHOST_USER_F_PROTOCOL_FEATURES to play a back-end
 *                         without protocol features at all)
 * @param maxQueueSize     the largest ring SET_VRING_NUM may ask for (a power of two)
 * @param polling          whether queue threads poll the avail ring instead of waiting for kicks
 * @param maxMemSlots      the GET_MAX_MEM_SLOTS answer: regions mapped at once
 * @param reconnectDelay   client mode: the pause before connecting again after a connection ended or failed
 */
public record TargetOptions(long protocolFeatures, long hiddenFeatures, int maxQueueSize, boolean polling, int maxMemSlots,
                            Duration reconnectDelay) {
    /** The protocol features this back-end implements. */
    public static final long SUPPORTED_PROTOCOL_FEATURES = bit(VhostUserProtocolFeature.MQ) | bit(VhostUserProtocolFeature.REPLY_ACK)
            | bit(VhostUserProtocolFeature.CONFIG) | bit(VhostUserProtocolFeature.STATUS)
            | bit(VhostUserProtocolFeature.CONFIGURE_MEM_SLOTS) | bit(VhostUserProtocolFeature.INFLIGHT_SHMFD)
            | bit(VhostUserProtocolFeature.RESET_DEVICE);
    /** QEMU's {@code VIRTQUEUE_MAX_SIZE}. */
    public static final int DEFAULT_MAX_QUEUE_SIZE = 1024;
    /** libvhost-user's {@code VHOST_USER_MAX_RAM_SLOTS} on x86 before QEMU 6. */
    public static final int DEFAULT_MAX_MEM_SLOTS = 32;
    /** Client mode's default reconnect pause. */
    public static final Duration DEFAULT_RECONNECT_DELAY = Duration.ofMillis(100);

    /** @throws IllegalArgumentException on an unsupported protocol feature or a bad size */
    public TargetOptions {
        long unsupported = protocolFeatures & ~SUPPORTED_PROTOCOL_FEATURES;
        if (unsupported != 0) {
            throw new IllegalArgumentException("protocol features " + VhostUserProtocolFeature.describe(unsupported)
                    + " are not implemented by the Java target; it offers at most " + VhostUserProtocolFeature.describe(SUPPORTED_PROTOCOL_FEATURES));
        }
        if (maxQueueSize < 1 || maxQueueSize > 32768 || Integer.bitCount(maxQueueSize) != 1) {
            throw new IllegalArgumentException("maxQueueSize " + maxQueueSize + " is not a power of two in 1..32768");
        }
        if (maxMemSlots < 1 || maxMemSlots > 509) {
            throw new IllegalArgumentException("maxMemSlots " + maxMemSlots + " is not in 1..509");
        }
        Objects.requireNonNull(reconnectDelay, "reconnectDelay");
    }

    /** @return every protocol feature, queues up to 1024, kick mode */
    public static TargetOptions defaults() {
        return builder().build();
    }

    /** @return a builder holding the defaults */
    public static Builder builder() {
        return new Builder();
    }

    /** @return whether {@code feature} ({@link VhostUserProtocolFeature}) is offered */
    public boolean offers(int feature) {
        return VhostUserProtocolFeature.has(protocolFeatures, feature);
    }

    /** @return whether VHOST_USER_F_PROTOCOL_FEATURES is offered at all */
    public boolean offersProtocolFeatures() {
        return !VirtioFeatures.has(hiddenFeatures, VirtioFeatures.VHOST_USER_F_PROTOCOL_FEATURES);
    }

    /** Builds {@link TargetOptions}. */
    public static final class Builder {
        private long protocolFeatures = SUPPORTED_PROTOCOL_FEATURES;
        private long hiddenFeatures;
        private int maxQueueSize = DEFAULT_MAX_QUEUE_SIZE;
        private boolean polling;
        private int maxMemSlots = DEFAULT_MAX_MEM_SLOTS;
        private Duration reconnectDelay = DEFAULT_RECONNECT_DELAY;

        private Builder() {
        }

        /** @param mask the protocol features to offer */
        public Builder protocolFeatures(long mask) {
            this.protocolFeatures = mask;
            return this;
        }

        /** @param feature a {@link VhostUserProtocolFeature} bit; @param on whether to offer it */
        public Builder protocolFeature(int feature, boolean on) {
            protocolFeatures = on ? protocolFeatures | bit(feature) : protocolFeatures & ~bit(feature);
            return this;
        }

        /** Never offers virtio feature {@code bit} (e.g. {@link VirtioFeatures#VIRTIO_RING_F_EVENT_IDX}). */
        public Builder hideFeature(int featureBit) {
            hiddenFeatures |= 1L << featureBit;
            return this;
        }

        /** @param size the largest queue size accepted */
        public Builder maxQueueSize(int size) {
            this.maxQueueSize = size;
            return this;
        }

        /** @param on poll the avail rings instead of waiting for kicks */
        public Builder polling(boolean on) {
            this.polling = on;
            return this;
        }

        /** @param n the GET_MAX_MEM_SLOTS answer */
        public Builder maxMemSlots(int n) {
            this.maxMemSlots = n;
            return this;
        }

        /** @param d client mode's pause between connection attempts */
        public Builder reconnectDelay(Duration d) {
            this.reconnectDelay = d;
            return this;
        }

        /** @return the options */
        public TargetOptions build() {
            return new TargetOptions(protocolFeatures, hiddenFeatures, maxQueueSize, polling, maxMemSlots, reconnectDelay);
        }
    }
}
