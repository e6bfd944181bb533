package io.jvirtio.spec;

/** Device-independent feature bits (virtio 1.x spec, section 6 "Reserved Feature Bits"), and helpers. */
public final class VirtioFeatures {
    /** The device may interrupt even when the driver asked it not to when the ring runs empty (legacy). */
    public static final int VIRTIO_F_NOTIFY_ON_EMPTY = 24;
    /** Descriptor layout is independent of message framing (legacy). */
    public static final int VIRTIO_F_ANY_LAYOUT = 27;
    /** {@code VIRTIO_RING_F_INDIRECT_DESC}: the driver may use indirect descriptor tables. */
    public static final int VIRTIO_RING_F_INDIRECT_DESC = 28;
    /** {@code VIRTIO_RING_F_EVENT_IDX}: used_event / avail_event notification suppression. */
    public static final int VIRTIO_RING_F_EVENT_IDX = 29;
    /** vhost-user transport bit: GET/SET_PROTOCOL_FEATURES are available. Never a device bit. */
    public static final int VHOST_USER_F_PROTOCOL_FEATURES = 30;
    /** Compliance with virtio 1.0+ (modern). jvirtio drives modern devices only. */
    public static final int VIRTIO_F_VERSION_1 = 32;
    /** The device is behind an IOMMU: addresses are IOVAs (VFIO). */
    public static final int VIRTIO_F_ACCESS_PLATFORM = 33;
    /** Packed virtqueue layout. */
    public static final int VIRTIO_F_RING_PACKED = 34;
    /** Buffers are used in the order they were made available. */
    public static final int VIRTIO_F_IN_ORDER = 35;
    /** Memory accesses by the device are ordered as the platform orders them (real hardware): use platform barriers. */
    public static final int VIRTIO_F_ORDER_PLATFORM = 36;
    /** Single root I/O virtualization. */
    public static final int VIRTIO_F_SR_IOV = 37;
    /** The driver passes extra data (beyond the queue index) in its notifications. jvirtio never accepts it. */
    public static final int VIRTIO_F_NOTIFICATION_DATA = 38;
    /** The driver notifies with the device-provided {@code queue_notify_data}. jvirtio never accepts it. */
    public static final int VIRTIO_F_NOTIF_CONFIG_DATA = 39;
    /** The driver can reset one queue (virtio-pci {@code queue_reset}). jvirtio never accepts it. */
    public static final int VIRTIO_F_RING_RESET = 40;

    private VirtioFeatures() {
    }

    /** @return the mask of one feature bit */
    public static long bit(int feature) {
        return 1L << feature;
    }

    /** @return whether {@code features} has {@code feature} */
    public static boolean has(long features, int feature) {
        return (features & bit(feature)) != 0;
    }
}
