package io.jvirtio.backend;

import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.vhostuser.VhostUserProtocolFeature;

import io.jvirtio.backend.ring.CpuAffinity;
import io.jvirtio.backend.ring.QueueMode;

import java.time.Duration;
import java.util.List;
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
 * @param queueMode        how the I/O queues' threads learn of new chains (control and event queues always wait for kicks)
 * @param pollIdle         POLL: how long a queue thread spins without work before it re-arms the kick and sleeps;
 *                         {@link Duration#ZERO} spins for ever (SPDK's vhost)
 * @param cpus             CPUs the queue threads are pinned to, queue {@code i} to {@code cpus[i % size]}; empty: unpinned
 * @param maxMemSlots      the GET_MAX_MEM_SLOTS answer: regions mapped at once
 * @param reconnectDelay   client mode: the pause before connecting again after a connection ended or failed
 */
public record TargetOptions(long protocolFeatures, long hiddenFeatures, int maxQueueSize, QueueMode queueMode, Duration pollIdle,
                            List<Integer> cpus, int maxMemSlots, Duration reconnectDelay) {
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
    /**
     * POLL's default idle time before sleeping on the kick: a request after a longer pause pays one
     * wake-up (tens of microseconds), a few percent of the pause at most, while an idle target
     * costs nothing. Benchmarks never pause that long between requests.
     */
    public static final Duration DEFAULT_POLL_IDLE = Duration.ofMillis(1);

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
        Objects.requireNonNull(queueMode, "queueMode");
        if (pollIdle == null || pollIdle.isNegative()) {
            throw new IllegalArgumentException("pollIdle " + pollIdle + " is not a duration of 0 (spin for ever) or more");
        }
        cpus = List.copyOf(cpus);
        for (int c : cpus) {
            if (c < 0 || c >= CpuAffinity.MAX_CPUS) {
                throw new IllegalArgumentException("CPU " + c + " is outside 0.." + (CpuAffinity.MAX_CPUS - 1));
            }
        }
    }

    /** @return whether the I/O queues poll */
    public boolean polling() {
        return queueMode == QueueMode.POLL;
    }

    /** @return the CPU queue {@code queueIndex}'s thread is pinned to, or -1 */
    public int cpuFor(int queueIndex) {
        return cpus.isEmpty() ? -1 : cpus.get(queueIndex % cpus.size());
    }

    /** @return every protocol feature, queues up to 1024, kick mode, unpinned */
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

    /**
     * The system property that sets the queue mode of every target whose options do not name one
     * ({@code POLL} or {@code KICK}): runs whole test suites against the Java target in the other mode.
     */
    public static final String QUEUE_MODE_PROPERTY = "jvirtio.target.queueMode";

    /** @return the mode when none was chosen: {@link #QUEUE_MODE_PROPERTY}, else POLL with CPUs to spin on, else KICK */
    static QueueMode defaultMode(List<Integer> cpus) {
        String p = System.getProperty(QUEUE_MODE_PROPERTY);
        if (p != null && !p.isBlank()) {
            try {
                return QueueMode.valueOf(p.trim().toUpperCase(java.util.Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(QUEUE_MODE_PROPERTY + "=" + p + " is not a queue mode (POLL or KICK)");
            }
        }
        return cpus.isEmpty() ? QueueMode.KICK : QueueMode.POLL;
    }

    /** Builds {@link TargetOptions}. */
    public static final class Builder {
        private long protocolFeatures = SUPPORTED_PROTOCOL_FEATURES;
        private long hiddenFeatures;
        private int maxQueueSize = DEFAULT_MAX_QUEUE_SIZE;
        private QueueMode queueMode;
        private Duration pollIdle = DEFAULT_POLL_IDLE;
        private List<Integer> cpus = List.of();
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

        /** @param on poll the avail rings instead of waiting for kicks ({@link #queueMode}) */
        public Builder polling(boolean on) {
            this.queueMode = on ? QueueMode.POLL : QueueMode.KICK;
            return this;
        }

        /** @param mode the I/O queues' mode (default: POLL when {@link #cpus} are given, else KICK) */
        public Builder queueMode(QueueMode mode) {
            this.queueMode = Objects.requireNonNull(mode, "mode");
            return this;
        }

        /** @param d POLL's idle time before sleeping on the kick; ZERO spins for ever */
        public Builder pollIdle(Duration d) {
            this.pollIdle = d;
            return this;
        }

        /** @param list CPUs to pin the queue threads to, round-robin by queue index */
        public Builder cpus(List<Integer> list) {
            this.cpus = List.copyOf(list);
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
            QueueMode mode = queueMode != null ? queueMode : defaultMode(cpus);
            return new TargetOptions(protocolFeatures, hiddenFeatures, maxQueueSize, mode, pollIdle, cpus, maxMemSlots, reconnectDelay);
        }
    }
}
