package io.jvirtio.core.vhostuser;

import io.jvirtio.spec.vhostuser.VhostUserProtocolFeature;

import java.time.Duration;
import java.util.Objects;

/**
 * How {@link VhostUserFrontend} connects and what it negotiates. Build with {@link #builder()};
 * {@link #defaults()} suits a local target.
 *
 * @param replyTimeout              how long to wait for each reply (default 5 s)
 * @param connectTimeout            the timeout of one connect attempt (default 5 s)
 * @param connectRetries            further connect attempts when the socket is missing or refuses (default 0)
 * @param retryDelay                the pause between connect attempts (default 100 ms)
 * @param maxQueueSize              the largest queue size offered to the device layer (default 1024,
 *                                  QEMU's {@code VIRTQUEUE_MAX_SIZE}); a power of two
 * @param requestedProtocolFeatures the protocol features to accept when the back-end offers them; a subset of
 *                                  {@link VhostUserProtocolFeature#SUPPORTED} (default: all of it)
 * @param server                    server mode (DPDK virtio_user's {@code server=1}, QEMU's {@code server=on}):
 *                                  jvirtio listens on the socket and the back-end connects, first and after
 *                                  every restart (default false: jvirtio connects, client mode)
 * @param acceptTimeout             server mode: how long to wait for the back-end's first connection (default 30 s)
 */
public record VhostUserOptions(Duration replyTimeout, Duration connectTimeout, int connectRetries, Duration retryDelay,
                               int maxQueueSize, long requestedProtocolFeatures, boolean server, Duration acceptTimeout) {
    /** Default time a server-mode front-end waits for its back-end's first connection. */
    public static final Duration DEFAULT_ACCEPT_TIMEOUT = Duration.ofSeconds(30);
    /** Default reply timeout. */
    public static final Duration DEFAULT_REPLY_TIMEOUT = Duration.ofSeconds(5);
    /** Default connect timeout. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);
    /** Default pause between connect attempts. */
    public static final Duration DEFAULT_RETRY_DELAY = Duration.ofMillis(100);
    /** QEMU's {@code VIRTQUEUE_MAX_SIZE}. */
    public static final int DEFAULT_MAX_QUEUE_SIZE = 1024;
    /** The split ring's limit. */
    public static final int MAX_QUEUE_SIZE = 32768;

    /** @throws IllegalArgumentException on a non-positive duration, a bad size or an unsupported protocol feature */
    public VhostUserOptions {
        requirePositive("replyTimeout", replyTimeout);
        requirePositive("connectTimeout", connectTimeout);
        requirePositive("acceptTimeout", acceptTimeout);
        Objects.requireNonNull(retryDelay, "retryDelay");
        if (retryDelay.isNegative()) {
            throw new IllegalArgumentException("retryDelay " + retryDelay + " is negative");
        }
        if (connectRetries < 0) {
            throw new IllegalArgumentException("connectRetries " + connectRetries + " is negative");
        }
        if (maxQueueSize < 1 || maxQueueSize > MAX_QUEUE_SIZE || Integer.bitCount(maxQueueSize) != 1) {
            throw new IllegalArgumentException("maxQueueSize " + maxQueueSize + " is not a power of two in 1.." + MAX_QUEUE_SIZE);
        }
        long unsupported = requestedProtocolFeatures & ~VhostUserProtocolFeature.SUPPORTED;
        if (unsupported != 0) {
            throw new IllegalArgumentException("protocol features " + VhostUserProtocolFeature.describe(unsupported)
                    + " are not supported by this front-end; supported: " + VhostUserProtocolFeature.describe(VhostUserProtocolFeature.SUPPORTED));
        }
    }

    private static void requirePositive(String name, Duration d) {
        Objects.requireNonNull(d, name);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(name + " " + d + " must be positive");
        }
    }

    /** @return the defaults */
    public static VhostUserOptions defaults() {
        return builder().build();
    }

    /** @return a builder holding the defaults */
    public static Builder builder() {
        return new Builder();
    }

    /** @return a builder holding these options */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.replyTimeout = replyTimeout;
        b.connectTimeout = connectTimeout;
        b.connectRetries = connectRetries;
        b.retryDelay = retryDelay;
        b.maxQueueSize = maxQueueSize;
        b.requestedProtocolFeatures = requestedProtocolFeatures;
        b.server = server;
        b.acceptTimeout = acceptTimeout;
        return b;
    }

    /** @return whether {@code feature} ({@link VhostUserProtocolFeature}) is to be accepted when offered */
    public boolean requests(int feature) {
        return VhostUserProtocolFeature.has(requestedProtocolFeatures, feature);
    }

    /** Builds {@link VhostUserOptions}. */
    public static final class Builder {
        private Duration replyTimeout = DEFAULT_REPLY_TIMEOUT;
        private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
        private int connectRetries;
        private Duration retryDelay = DEFAULT_RETRY_DELAY;
        private int maxQueueSize = DEFAULT_MAX_QUEUE_SIZE;
        private long requestedProtocolFeatures = VhostUserProtocolFeature.SUPPORTED;
        private boolean server;
        private Duration acceptTimeout = DEFAULT_ACCEPT_TIMEOUT;

        private Builder() {
        }

        /**
         * @param on      server mode: listen on the socket, the back-end connects
         * @param timeout how long to wait for its first connection
         */
        public Builder server(boolean on, Duration timeout) {
            this.server = on;
            this.acceptTimeout = timeout;
            return this;
        }

        /** @param d how long to wait for each reply */
        public Builder replyTimeout(Duration d) {
            this.replyTimeout = d;
            return this;
        }

        /** @param d the timeout of one connect attempt */
        public Builder connectTimeout(Duration d) {
            this.connectTimeout = d;
            return this;
        }

        /**
         * @param retries further attempts when the socket is missing or refuses
         * @param delay   the pause between attempts
         */
        public Builder connectRetries(int retries, Duration delay) {
            this.connectRetries = retries;
            this.retryDelay = delay;
            return this;
        }

        /** @param size the largest queue size, a power of two */
        public Builder maxQueueSize(int size) {
            this.maxQueueSize = size;
            return this;
        }

        /** @param mask the protocol features to accept when offered ({@link VhostUserProtocolFeature#bit}) */
        public Builder requestedProtocolFeatures(long mask) {
            this.requestedProtocolFeatures = mask;
            return this;
        }

        /**
         * @param feature a {@link VhostUserProtocolFeature} bit
         * @param request whether to accept it when offered
         */
        public Builder protocolFeature(int feature, boolean request) {
            long bit = VhostUserProtocolFeature.bit(feature);
            this.requestedProtocolFeatures = request ? requestedProtocolFeatures | bit : requestedProtocolFeatures & ~bit;
            return this;
        }

        /** @return the options */
        public VhostUserOptions build() {
            return new VhostUserOptions(replyTimeout, connectTimeout, connectRetries, retryDelay, maxQueueSize, requestedProtocolFeatures,
                    server, acceptTimeout);
        }
    }
}
