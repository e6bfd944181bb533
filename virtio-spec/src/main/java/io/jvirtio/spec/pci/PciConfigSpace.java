package io.jvirtio.spec.pci;

/**
 * The part of the PCI configuration space header a virtio-pci driver reads, with the names of
 * Linux's {@code include/uapi/linux/pci_regs.h}. Offsets are from the start of config space; all
 * values little-endian.
 */
public final class PciConfigSpace {
    /** Size of a conventional PCI config space; capabilities of the standard list live below it. */
    public static final int PCI_CFG_SPACE_SIZE = 256;
    /** Size of a PCI Express config space (extended capabilities from 0x100). */
    public static final int PCI_CFG_SPACE_EXP_SIZE = 4096;

    /** u16 vendor id; 0xffff reads mean "no function here". */
    public static final int PCI_VENDOR_ID = 0x00;
    /** u16 device id. */
    public static final int PCI_DEVICE_ID = 0x02;
    /** u16 command register. */
    public static final int PCI_COMMAND = 0x04;
    /** Command: respond to memory space accesses (BARs decode). */
    public static final int PCI_COMMAND_MEMORY = 0x2;
    /** Command: the function may master the bus (DMA). */
    public static final int PCI_COMMAND_MASTER = 0x4;
    /** Command: INTx emulation disabled (a polled driver wants no legacy interrupt). */
    public static final int PCI_COMMAND_INTX_DISABLE = 0x400;
    /** u16 status register. */
    public static final int PCI_STATUS = 0x06;
    /** Status: the function has a capability list at {@link #PCI_CAPABILITY_LIST}. */
    public static final int PCI_STATUS_CAP_LIST = 0x10;
    /** u8 revision id. */
    public static final int PCI_REVISION_ID = 0x08;
    /** u32 BAR 0; BARs 1..5 follow at 4-byte steps. */
    public static final int PCI_BASE_ADDRESS_0 = 0x10;
    /** Number of standard BARs (0..5). */
    public static final int PCI_STD_NUM_BARS = 6;
    /** BAR register bit 0: an I/O BAR. */
    public static final int PCI_BASE_ADDRESS_SPACE_IO = 0x1;
    /** BAR register bits 2..1 = 2: a 64-bit memory BAR (the next register holds the high half). */
    public static final int PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x4;
    /** BAR register bits 2..1: the memory type field. */
    public static final int PCI_BASE_ADDRESS_MEM_TYPE_MASK = 0x6;
    /** u16 subsystem vendor id. */
    public static final int PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
    /** u16 subsystem id (a transitional virtio device's virtio device id). */
    public static final int PCI_SUBSYSTEM_ID = 0x2e;
    /** u8 offset of the first capability (low two bits reserved: mask them). */
    public static final int PCI_CAPABILITY_LIST = 0x34;

    /** Capability header: u8 capability id. */
    public static final int PCI_CAP_LIST_ID = 0;
    /** Capability header: u8 offset of the next capability, 0 at the end. */
    public static final int PCI_CAP_LIST_NEXT = 1;
    /** Standard capabilities sit at or above this offset (after the 64-byte header). */
    public static final int PCI_STD_HEADER_SIZEOF = 0x40;
    /** Linux's {@code PCI_FIND_CAP_TTL}: at most this many capabilities in the standard list. */
    public static final int PCI_FIND_CAP_TTL = 48;

    /** Capability id: power management. */
    public static final int PCI_CAP_ID_PM = 0x01;
    /** Capability id: MSI. */
    public static final int PCI_CAP_ID_MSI = 0x05;
    /** Capability id: vendor specific (virtio's structures). */
    public static final int PCI_CAP_ID_VNDR = 0x09;
    /** Capability id: PCI Express. */
    public static final int PCI_CAP_ID_EXP = 0x10;
    /** Capability id: MSI-X. */
    public static final int PCI_CAP_ID_MSIX = 0x11;

    private PciConfigSpace() {
    }

    /** @return the config-space offset of BAR register {@code index} (0..5) */
    public static int baseAddressRegister(int index) {
        return PCI_BASE_ADDRESS_0 + 4 * index;
    }
}
