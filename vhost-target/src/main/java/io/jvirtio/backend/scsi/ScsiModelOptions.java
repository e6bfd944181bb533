package io.jvirtio.backend.scsi;

import java.util.Objects;

/**
 * Host-level settings of a virtio-scsi device: its name, request queue count, the limits it
 * advertises in struct virtio_scsi_config, and whether it offers VIRTIO_SCSI_F_HOTPLUG.
 */
public final class ScsiModelOptions {
    private final String name;
    private final int requestQueues;
    private final int segMax;
    private final int maxSectors;
    private final int cmdPerLun;
    private final int maxTarget;
    private final int maxLun;
    private final boolean hotplug;
    private final boolean paramChange;

    private ScsiModelOptions(Builder b) {
        this.name = b.name;
        this.requestQueues = b.requestQueues;
        this.segMax = b.segMax;
        this.maxSectors = b.maxSectors;
        this.cmdPerLun = b.cmdPerLun;
        this.maxTarget = b.maxTarget;
        this.maxLun = b.maxLun;
        this.hotplug = b.hotplug;
        this.paramChange = b.paramChange;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** @return the defaults: "scsi0", 1 request queue, targets 0..7, LUNs 0..255, hot-plug and param-change offered */
    public static ScsiModelOptions defaults() {
        return builder().build();
    }

    public String name() {
        return name;
    }

    /** @return num_queues: request queues, not counting the control and event queues */
    public int requestQueues() {
        return requestQueues;
    }

    public int segMax() {
        return segMax;
    }

    public int maxSectors() {
        return maxSectors;
    }

    public int cmdPerLun() {
        return cmdPerLun;
    }

    public int maxTarget() {
        return maxTarget;
    }

    public int maxLun() {
        return maxLun;
    }

    public boolean hotplug() {
        return hotplug;
    }

    public boolean paramChange() {
        return paramChange;
    }

    /** Builds a {@link ScsiModelOptions}. */
    public static final class Builder {
        private String name = "scsi0";
        private int requestQueues = 1;
        private int segMax = 126;
        private int maxSectors = 8192;
        private int cmdPerLun = 128;
        private int maxTarget = 7;
        private int maxLun = 255;
        private boolean hotplug = true;
        private boolean paramChange = true;

        private Builder() {
        }

        public Builder name(String name) {
            this.name = Objects.requireNonNull(name, "name");
            return this;
        }

        /** Request queues (1..1024), queue 2 onwards. */
        public Builder requestQueues(int n) {
            this.requestQueues = range(n, 1, 1024, "request queues");
            return this;
        }

        /** seg_max: the most data segments the driver should put in one command (a hint, not enforced). */
        public Builder segMax(int n) {
            this.segMax = range(n, 1, Integer.MAX_VALUE, "seg_max");
            return this;
        }

        /** max_sectors: the largest transfer the driver should send, in 512-byte sectors (a hint). */
        public Builder maxSectors(int n) {
            this.maxSectors = range(n, 1, Integer.MAX_VALUE, "max_sectors");
            return this;
        }

        public Builder cmdPerLun(int n) {
            this.cmdPerLun = range(n, 1, Integer.MAX_VALUE, "cmd_per_lun");
            return this;
        }

        /** max_target: the highest target number (0..255); LUNs can be attached to targets 0..max. */
        public Builder maxTarget(int n) {
            this.maxTarget = range(n, 0, 255, "max_target");
            return this;
        }

        /** max_lun: the highest LUN number (0..16383). */
        public Builder maxLun(int n) {
            this.maxLun = range(n, 0, 16383, "max_lun");
            return this;
        }

        /** Offer VIRTIO_SCSI_F_HOTPLUG (default on). */
        public Builder hotplug(boolean on) {
            this.hotplug = on;
            return this;
        }

        /**
         * Offer VIRTIO_SCSI_F_CHANGE (default on): LUN parameter changes are then reported as
         * VIRTIO_SCSI_T_PARAM_CHANGE events ({@link VirtioScsiModel#reportParameterChange}). On by
         * default because QEMU's vhost-user-scsi-pci acknowledges it whether offered or not (its
         * {@code param_change} property) and SPDK's vhost-scsi offers it; off to test initiators against
         * a device without it.
         */
        public Builder paramChange(boolean on) {
            this.paramChange = on;
            return this;
        }

        public ScsiModelOptions build() {
            return new ScsiModelOptions(this);
        }

        private static int range(int v, int min, int max, String what) {
            if (v < min || v > max) {
                throw new IllegalArgumentException(what + " " + v + " is outside " + min + ".." + max);
            }
            return v;
        }
    }
}
