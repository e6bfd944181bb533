package io.jvirtio.sys.vfio;

/**
 * VFIO ioctl request numbers, the API version and the extension ids ({@code vfio.h}).
 *
 * <p>Every request is {@code _IO(VFIO_TYPE, VFIO_BASE + n)}: no size is encoded, each struct
 * carries its own {@code argsz} instead ("It's always the caller's responsibility to indicate the
 * size of the structure passed by setting argsz appropriately").
 */
public final class VfioIoctl {
    /** {@code VFIO_TYPE}: the ioctl type character ';'. */
    public static final int VFIO_TYPE = ';';
    /** {@code VFIO_BASE}: the first ioctl number. */
    public static final int VFIO_BASE = 100;

    /** {@code VFIO_API_VERSION}: what {@link #VFIO_GET_API_VERSION} returns for this API. */
    public static final int VFIO_API_VERSION = 0;

    // container fd
    /** {@code VFIO_GET_API_VERSION} (container, no argument). */
    public static final long VFIO_GET_API_VERSION = io(0);
    /** {@code VFIO_CHECK_EXTENSION} (container, extension id by value): 1 when supported. */
    public static final long VFIO_CHECK_EXTENSION = io(1);
    /** {@code VFIO_SET_IOMMU} (container, IOMMU type by value); needs a group attached first. */
    public static final long VFIO_SET_IOMMU = io(2);
    /** {@code VFIO_IOMMU_GET_INFO} (container, {@link VfioIommuType1Info}). */
    public static final long VFIO_IOMMU_GET_INFO = io(12);
    /** {@code VFIO_IOMMU_MAP_DMA} (container, {@link VfioDmaMap}). */
    public static final long VFIO_IOMMU_MAP_DMA = io(13);
    /** {@code VFIO_IOMMU_UNMAP_DMA} (container, {@link VfioDmaUnmap}; size written back). */
    public static final long VFIO_IOMMU_UNMAP_DMA = io(14);

    // group fd
    /** {@code VFIO_GROUP_GET_STATUS} (group, {@link VfioGroupStatus}). */
    public static final long VFIO_GROUP_GET_STATUS = io(3);
    /** {@code VFIO_GROUP_SET_CONTAINER} (group, pointer to an int holding the container fd). */
    public static final long VFIO_GROUP_SET_CONTAINER = io(4);
    /** {@code VFIO_GROUP_UNSET_CONTAINER} (group, no argument). */
    public static final long VFIO_GROUP_UNSET_CONTAINER = io(5);
    /** {@code VFIO_GROUP_GET_DEVICE_FD} (group, NUL-terminated device name): a new device fd. */
    public static final long VFIO_GROUP_GET_DEVICE_FD = io(6);

    // device fd
    /** {@code VFIO_DEVICE_GET_INFO} (device, {@link VfioDeviceInfo}). */
    public static final long VFIO_DEVICE_GET_INFO = io(7);
    /** {@code VFIO_DEVICE_GET_REGION_INFO} (device, {@link VfioRegionInfo}, index in). */
    public static final long VFIO_DEVICE_GET_REGION_INFO = io(8);
    /** {@code VFIO_DEVICE_GET_IRQ_INFO} (device, {@link VfioIrqInfo}, index in). */
    public static final long VFIO_DEVICE_GET_IRQ_INFO = io(9);
    /** {@code VFIO_DEVICE_SET_IRQS}: unused (completions are polled). */
    public static final long VFIO_DEVICE_SET_IRQS = io(10);
    /** {@code VFIO_DEVICE_RESET} (device, no argument); only with {@link VfioDeviceInfo#FLAGS_RESET}. */
    public static final long VFIO_DEVICE_RESET = io(11);

    // extensions (VFIO_CHECK_EXTENSION) and IOMMU types (VFIO_SET_IOMMU)
    /** {@code VFIO_TYPE1_IOMMU}. */
    public static final int VFIO_TYPE1_IOMMU = 1;
    /** {@code VFIO_TYPE1v2_IOMMU}: type1 with exact unmap semantics; the one jvirtio uses. */
    public static final int VFIO_TYPE1v2_IOMMU = 3;
    /** {@code VFIO_DMA_CC_IOMMU}: DMA is cache coherent. */
    public static final int VFIO_DMA_CC_IOMMU = 4;
    /** {@code VFIO_NOIOMMU_IOMMU}: the unsafe no-IOMMU mode (no DMA mapping at all). */
    public static final int VFIO_NOIOMMU_IOMMU = 8;
    /** {@code VFIO_UNMAP_ALL}: {@link VfioDmaUnmap#FLAG_ALL} is supported. */
    public static final int VFIO_UNMAP_ALL = 9;
    /** {@code VFIO_UPDATE_VADDR}. */
    public static final int VFIO_UPDATE_VADDR = 10;

    private VfioIoctl() {
    }

    /** {@code _IO(VFIO_TYPE, VFIO_BASE + n)}: direction none, size 0. */
    private static long io(int n) {
        return (VFIO_TYPE << 8) | (VFIO_BASE + n);
    }
}
