package io.jvirtio.sys.vfio;

/** vfio-pci's fixed region and IRQ indexes ({@code vfio.h} enums). */
public final class VfioPciIndex {
    /** {@code VFIO_PCI_BAR0_REGION_INDEX}; BAR n is region n. */
    public static final int VFIO_PCI_BAR0_REGION_INDEX = 0;
    /** {@code VFIO_PCI_BAR5_REGION_INDEX}. */
    public static final int VFIO_PCI_BAR5_REGION_INDEX = 5;
    /** {@code VFIO_PCI_ROM_REGION_INDEX}. */
    public static final int VFIO_PCI_ROM_REGION_INDEX = 6;
    /** {@code VFIO_PCI_CONFIG_REGION_INDEX}: config space, {@code pread}/{@code pwrite} only. */
    public static final int VFIO_PCI_CONFIG_REGION_INDEX = 7;
    /** {@code VFIO_PCI_VGA_REGION_INDEX}: absent on non-VGA functions (GET_REGION_INFO gives EINVAL). */
    public static final int VFIO_PCI_VGA_REGION_INDEX = 8;
    /** {@code VFIO_PCI_NUM_REGIONS}. */
    public static final int VFIO_PCI_NUM_REGIONS = 9;

    /** {@code VFIO_PCI_INTX_IRQ_INDEX}. */
    public static final int VFIO_PCI_INTX_IRQ_INDEX = 0;
    /** {@code VFIO_PCI_MSI_IRQ_INDEX}. */
    public static final int VFIO_PCI_MSI_IRQ_INDEX = 1;
    /** {@code VFIO_PCI_MSIX_IRQ_INDEX}. */
    public static final int VFIO_PCI_MSIX_IRQ_INDEX = 2;
    /** {@code VFIO_PCI_ERR_IRQ_INDEX}: PCIe only (GET_IRQ_INFO gives EINVAL otherwise). */
    public static final int VFIO_PCI_ERR_IRQ_INDEX = 3;
    /** {@code VFIO_PCI_REQ_IRQ_INDEX}. */
    public static final int VFIO_PCI_REQ_IRQ_INDEX = 4;
    /** {@code VFIO_PCI_NUM_IRQS}. */
    public static final int VFIO_PCI_NUM_IRQS = 5;

    private VfioPciIndex() {
    }
}
