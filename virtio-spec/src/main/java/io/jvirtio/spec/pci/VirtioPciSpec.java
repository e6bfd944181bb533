package io.jvirtio.spec.pci;

/**
 * virtio over PCI (virtio 1.2 section 4.1), with the names of Linux's
 * {@code include/uapi/linux/virtio_pci.h}: the PCI identity of virtio functions, the vendor
 * capability that locates each virtio structure in a BAR, the offsets of
 * {@code struct virtio_pci_common_cfg}, the ISR bits.
 */
public final class VirtioPciSpec {
    // 4.1.2 PCI Device Discovery
    /** Every virtio function has this PCI vendor id (Red Hat / Qumranet). */
    public static final int VIRTIO_PCI_VENDOR_ID = 0x1af4;
    /** Modern (non-transitional) device id = this + the virtio device id. */
    public static final int VIRTIO_PCI_DEVICE_ID_BASE = 0x1040;
    /** Largest modern device id (virtio device ids go up to 0x3f here). */
    public static final int VIRTIO_PCI_DEVICE_ID_MAX = 0x107f;
    /** First transitional device id; its virtio device id is the PCI subsystem id. */
    public static final int VIRTIO_TRANS_ID_MIN = 0x1000;
    /** Last transitional device id. */
    public static final int VIRTIO_TRANS_ID_MAX = 0x103f;

    // 5 Device Types (the ones jvirtio drives)
    /** virtio device id of a block device. */
    public static final int VIRTIO_ID_BLOCK = 2;
    /** virtio device id of a SCSI host. */
    public static final int VIRTIO_ID_SCSI = 8;

    // 4.1.4 struct virtio_pci_cap cfg_type values
    /** Common configuration. */
    public static final int VIRTIO_PCI_CAP_COMMON_CFG = 1;
    /** Notifications. */
    public static final int VIRTIO_PCI_CAP_NOTIFY_CFG = 2;
    /** ISR status. */
    public static final int VIRTIO_PCI_CAP_ISR_CFG = 3;
    /** Device-specific configuration. */
    public static final int VIRTIO_PCI_CAP_DEVICE_CFG = 4;
    /** The PCI configuration access window (not a structure in a BAR). */
    public static final int VIRTIO_PCI_CAP_PCI_CFG = 5;
    /** Shared memory region. */
    public static final int VIRTIO_PCI_CAP_SHARED_MEMORY_CFG = 8;
    /** Vendor-specific data. */
    public static final int VIRTIO_PCI_CAP_VENDOR_CFG = 9;

    // struct virtio_pci_cap field offsets (from the capability's start in config space)
    /** u8 cap_vndr = PCI_CAP_ID_VNDR. */
    public static final int VIRTIO_PCI_CAP_VNDR = 0;
    /** u8 cap_next. */
    public static final int VIRTIO_PCI_CAP_NEXT = 1;
    /** u8 cap_len: the length of this capability structure. */
    public static final int VIRTIO_PCI_CAP_LEN = 2;
    /** u8 cfg_type: one of the {@code VIRTIO_PCI_CAP_*_CFG} values. */
    public static final int VIRTIO_PCI_CAP_CFG_TYPE = 3;
    /** u8 bar: 0..5, other values reserved (the capability is then ignored). */
    public static final int VIRTIO_PCI_CAP_BAR = 4;
    /** u8 id: multiple capabilities of one type. */
    public static final int VIRTIO_PCI_CAP_ID = 5;
    /** le32 offset of the structure within the BAR. */
    public static final int VIRTIO_PCI_CAP_OFFSET = 8;
    /** le32 length of the structure. */
    public static final int VIRTIO_PCI_CAP_LENGTH = 12;
    /** le32 notify_off_multiplier, in {@code struct virtio_pci_notify_cap} only. */
    public static final int VIRTIO_PCI_NOTIFY_CAP_MULT = 16;
    /** {@code sizeof(struct virtio_pci_cap)}: a shorter cap_len is ignored. */
    public static final int VIRTIO_PCI_CAP_SIZE = 16;
    /** {@code sizeof(struct virtio_pci_notify_cap)}. */
    public static final int VIRTIO_PCI_NOTIFY_CAP_SIZE = 20;

    // 4.1.4.3 struct virtio_pci_common_cfg offsets (Linux VIRTIO_PCI_COMMON_*), width in the comment
    /** le32 device_feature_select (rw). */
    public static final int VIRTIO_PCI_COMMON_DFSELECT = 0x00;
    /** le32 device_feature (ro): the 32 bits selected by DFSELECT. */
    public static final int VIRTIO_PCI_COMMON_DF = 0x04;
    /** le32 driver_feature_select (rw). */
    public static final int VIRTIO_PCI_COMMON_GFSELECT = 0x08;
    /** le32 driver_feature (rw): the 32 bits selected by GFSELECT. */
    public static final int VIRTIO_PCI_COMMON_GF = 0x0c;
    /** le16 config_msix_vector (rw). */
    public static final int VIRTIO_PCI_COMMON_MSIX = 0x10;
    /** le16 num_queues (ro). */
    public static final int VIRTIO_PCI_COMMON_NUMQ = 0x12;
    /** u8 device_status (rw); writing 0 resets. */
    public static final int VIRTIO_PCI_COMMON_STATUS = 0x14;
    /** u8 config_generation (ro). */
    public static final int VIRTIO_PCI_COMMON_CFGGENERATION = 0x15;
    /** le16 queue_select (rw): the queue the Q_* registers show. */
    public static final int VIRTIO_PCI_COMMON_Q_SELECT = 0x16;
    /** le16 queue_size (rw): the maximum on reset, the driver may write a smaller power of two. */
    public static final int VIRTIO_PCI_COMMON_Q_SIZE = 0x18;
    /** le16 queue_msix_vector (rw). */
    public static final int VIRTIO_PCI_COMMON_Q_MSIX = 0x1a;
    /** le16 queue_enable (rw): the driver writes 1, never 0 (4.1.4.3.2). */
    public static final int VIRTIO_PCI_COMMON_Q_ENABLE = 0x1c;
    /** le16 queue_notify_off (ro). */
    public static final int VIRTIO_PCI_COMMON_Q_NOFF = 0x1e;
    /** le32 queue_desc low half (rw). */
    public static final int VIRTIO_PCI_COMMON_Q_DESCLO = 0x20;
    /** le32 queue_desc high half (rw). */
    public static final int VIRTIO_PCI_COMMON_Q_DESCHI = 0x24;
    /** le32 queue_driver (avail ring) low half (rw). */
    public static final int VIRTIO_PCI_COMMON_Q_AVAILLO = 0x28;
    /** le32 queue_driver (avail ring) high half (rw). */
    public static final int VIRTIO_PCI_COMMON_Q_AVAILHI = 0x2c;
    /** le32 queue_device (used ring) low half (rw). */
    public static final int VIRTIO_PCI_COMMON_Q_USEDLO = 0x30;
    /** le32 queue_device (used ring) high half (rw). */
    public static final int VIRTIO_PCI_COMMON_Q_USEDHI = 0x34;
    /** le16 queue_notify_data (ro), with VIRTIO_F_NOTIF_CONFIG_DATA only. */
    public static final int VIRTIO_PCI_COMMON_Q_NDATA = 0x38;
    /** le16 queue_reset (rw), with VIRTIO_F_RING_RESET only. */
    public static final int VIRTIO_PCI_COMMON_Q_RESET = 0x3a;
    /** {@code sizeof(struct virtio_pci_common_cfg)} without the optional notify_data/reset fields. */
    public static final int VIRTIO_PCI_COMMON_CFG_SIZE = 0x38;

    /** "No MSI-X vector": written to every vector register by a polled driver. */
    public static final int VIRTIO_MSI_NO_VECTOR = 0xffff;

    // 4.1.4.5 ISR status (one byte, read-to-clear)
    /** ISR bit 0: a virtqueue interrupt. */
    public static final int VIRTIO_PCI_ISR_QUEUE = 0x1;
    /** ISR bit 1: a configuration change interrupt. */
    public static final int VIRTIO_PCI_ISR_CONFIG = 0x2;

    private VirtioPciSpec() {
    }

    /** @return the name of a {@code cfg_type}, e.g. {@code "VIRTIO_PCI_CAP_NOTIFY_CFG"} */
    public static String capTypeName(int cfgType) {
        return switch (cfgType) {
            case VIRTIO_PCI_CAP_COMMON_CFG -> "VIRTIO_PCI_CAP_COMMON_CFG";
            case VIRTIO_PCI_CAP_NOTIFY_CFG -> "VIRTIO_PCI_CAP_NOTIFY_CFG";
            case VIRTIO_PCI_CAP_ISR_CFG -> "VIRTIO_PCI_CAP_ISR_CFG";
            case VIRTIO_PCI_CAP_DEVICE_CFG -> "VIRTIO_PCI_CAP_DEVICE_CFG";
            case VIRTIO_PCI_CAP_PCI_CFG -> "VIRTIO_PCI_CAP_PCI_CFG";
            case VIRTIO_PCI_CAP_SHARED_MEMORY_CFG -> "VIRTIO_PCI_CAP_SHARED_MEMORY_CFG";
            case VIRTIO_PCI_CAP_VENDOR_CFG -> "VIRTIO_PCI_CAP_VENDOR_CFG";
            default -> "cfg_type " + cfgType;
        };
    }
}
