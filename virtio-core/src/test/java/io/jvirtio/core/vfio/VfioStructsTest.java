package io.jvirtio.core.vfio;

import io.jvirtio.sys.vfio.VfioDeviceInfo;
import io.jvirtio.sys.vfio.VfioDmaMap;
import io.jvirtio.sys.vfio.VfioDmaUnmap;
import io.jvirtio.sys.vfio.VfioGroupStatus;
import io.jvirtio.sys.vfio.VfioInfoCaps;
import io.jvirtio.sys.vfio.VfioIommuType1Info;
import io.jvirtio.sys.vfio.VfioIoctl;
import io.jvirtio.sys.vfio.VfioIrqInfo;
import io.jvirtio.sys.vfio.VfioPciIndex;
import io.jvirtio.sys.vfio.VfioRegionInfo;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The constants against what gcc printed from Linux 6.1's {@code <linux/vfio.h>} ({@code sizeof},
 * {@code offsetof}, macro values; research note vfio-plan.md §2, file nums.out).
 */
class VfioStructsTest {
    @Test
    void ioctlNumbersAndExtensions() {
        assertEquals(0x0, VfioIoctl.VFIO_API_VERSION);
        assertEquals(0x3b64, VfioIoctl.VFIO_GET_API_VERSION);
        assertEquals(0x3b65, VfioIoctl.VFIO_CHECK_EXTENSION);
        assertEquals(0x3b66, VfioIoctl.VFIO_SET_IOMMU);
        assertEquals(0x3b67, VfioIoctl.VFIO_GROUP_GET_STATUS);
        assertEquals(0x3b68, VfioIoctl.VFIO_GROUP_SET_CONTAINER);
        assertEquals(0x3b69, VfioIoctl.VFIO_GROUP_UNSET_CONTAINER);
        assertEquals(0x3b6a, VfioIoctl.VFIO_GROUP_GET_DEVICE_FD);
        assertEquals(0x3b6b, VfioIoctl.VFIO_DEVICE_GET_INFO);
        assertEquals(0x3b6c, VfioIoctl.VFIO_DEVICE_GET_REGION_INFO);
        assertEquals(0x3b6d, VfioIoctl.VFIO_DEVICE_GET_IRQ_INFO);
        assertEquals(0x3b6e, VfioIoctl.VFIO_DEVICE_SET_IRQS);
        assertEquals(0x3b6f, VfioIoctl.VFIO_DEVICE_RESET);
        assertEquals(0x3b70, VfioIoctl.VFIO_IOMMU_GET_INFO);
        assertEquals(0x3b71, VfioIoctl.VFIO_IOMMU_MAP_DMA);
        assertEquals(0x3b72, VfioIoctl.VFIO_IOMMU_UNMAP_DMA);
        assertEquals(0x1, VfioIoctl.VFIO_TYPE1_IOMMU);
        assertEquals(0x3, VfioIoctl.VFIO_TYPE1v2_IOMMU);
        assertEquals(0x8, VfioIoctl.VFIO_NOIOMMU_IOMMU);
        assertEquals(0x9, VfioIoctl.VFIO_UNMAP_ALL);
    }

    @Test
    void flagsAndIndexes() {
        assertEquals(0x1, VfioGroupStatus.FLAGS_VIABLE);
        assertEquals(0x2, VfioGroupStatus.FLAGS_CONTAINER_SET);
        assertEquals(0x1, VfioDeviceInfo.FLAGS_RESET);
        assertEquals(0x2, VfioDeviceInfo.FLAGS_PCI);
        assertEquals(0x80, VfioDeviceInfo.FLAGS_CAPS);
        assertEquals(0x1, VfioRegionInfo.FLAG_READ);
        assertEquals(0x2, VfioRegionInfo.FLAG_WRITE);
        assertEquals(0x4, VfioRegionInfo.FLAG_MMAP);
        assertEquals(0x8, VfioRegionInfo.FLAG_CAPS);
        assertEquals(0x1, VfioRegionInfo.CAP_SPARSE_MMAP);
        assertEquals(0x2, VfioRegionInfo.CAP_TYPE);
        assertEquals(0, VfioPciIndex.VFIO_PCI_BAR0_REGION_INDEX);
        assertEquals(5, VfioPciIndex.VFIO_PCI_BAR5_REGION_INDEX);
        assertEquals(6, VfioPciIndex.VFIO_PCI_ROM_REGION_INDEX);
        assertEquals(7, VfioPciIndex.VFIO_PCI_CONFIG_REGION_INDEX);
        assertEquals(8, VfioPciIndex.VFIO_PCI_VGA_REGION_INDEX);
        assertEquals(9, VfioPciIndex.VFIO_PCI_NUM_REGIONS);
        assertEquals(0, VfioPciIndex.VFIO_PCI_INTX_IRQ_INDEX);
        assertEquals(2, VfioPciIndex.VFIO_PCI_MSIX_IRQ_INDEX);
        assertEquals(5, VfioPciIndex.VFIO_PCI_NUM_IRQS);
        assertEquals(0x1, VfioDmaMap.FLAG_READ);
        assertEquals(0x2, VfioDmaMap.FLAG_WRITE);
        assertEquals(0x4, VfioDmaMap.FLAG_VADDR);
        assertEquals(0x1, VfioDmaUnmap.FLAG_GET_DIRTY_BITMAP);
        assertEquals(0x2, VfioDmaUnmap.FLAG_ALL);
        assertEquals(0x4, VfioDmaUnmap.FLAG_VADDR);
        assertEquals(0x1, VfioIommuType1Info.INFO_PGSIZES);
        assertEquals(0x2, VfioIommuType1Info.INFO_CAPS);
        assertEquals(0x1, VfioIommuType1Info.CAP_IOVA_RANGE);
        assertEquals(0x2, VfioIommuType1Info.CAP_MIGRATION);
        assertEquals(0x3, VfioIommuType1Info.CAP_DMA_AVAIL);
    }

    @Test
    void structSizesAndOffsets() {
        assertEquals(8, VfioInfoCaps.HEADER_SIZE);
        assertEquals(0, VfioInfoCaps.ID_OFFSET);
        assertEquals(2, VfioInfoCaps.VERSION_OFFSET);
        assertEquals(4, VfioInfoCaps.NEXT_OFFSET);

        assertEquals(8, VfioGroupStatus.SIZE);
        assertEquals(0, VfioGroupStatus.ARGSZ_OFFSET);
        assertEquals(4, VfioGroupStatus.FLAGS_OFFSET);

        // 20 in 6.1, 24 with HEAD's pad; 24 is passed (works on 6.1, verified in the guest)
        assertEquals(24, VfioDeviceInfo.SIZE);
        assertEquals(4, VfioDeviceInfo.FLAGS_OFFSET);
        assertEquals(8, VfioDeviceInfo.NUM_REGIONS_OFFSET);
        assertEquals(12, VfioDeviceInfo.NUM_IRQS_OFFSET);
        assertEquals(16, VfioDeviceInfo.CAP_OFFSET_OFFSET);

        assertEquals(32, VfioRegionInfo.SIZE);
        assertEquals(4, VfioRegionInfo.FLAGS_OFFSET);
        assertEquals(8, VfioRegionInfo.INDEX_OFFSET);
        assertEquals(12, VfioRegionInfo.CAP_OFFSET_OFFSET);
        assertEquals(16, VfioRegionInfo.SIZE_OFFSET);
        assertEquals(24, VfioRegionInfo.OFFSET_OFFSET);
        assertEquals(16, VfioRegionInfo.SPARSE_AREA_SIZE);
        assertEquals(8, VfioRegionInfo.SPARSE_NR_AREAS_OFFSET);
        assertEquals(16, VfioRegionInfo.SPARSE_AREAS_OFFSET);

        assertEquals(24, VfioIommuType1Info.SIZE);
        assertEquals(4, VfioIommuType1Info.FLAGS_OFFSET);
        assertEquals(8, VfioIommuType1Info.IOVA_PGSIZES_OFFSET);
        assertEquals(16, VfioIommuType1Info.CAP_OFFSET_OFFSET);
        assertEquals(16, VfioIommuType1Info.IOVA_RANGE_SIZE);
        assertEquals(8, VfioIommuType1Info.IOVA_NR_IOVAS_OFFSET);
        assertEquals(16, VfioIommuType1Info.IOVA_RANGES_OFFSET);
        assertEquals(12, VfioIommuType1Info.DMA_AVAIL_SIZE);
        assertEquals(8, VfioIommuType1Info.DMA_AVAIL_AVAIL_OFFSET);

        assertEquals(32, VfioDmaMap.SIZE);
        assertEquals(4, VfioDmaMap.FLAGS_OFFSET);
        assertEquals(8, VfioDmaMap.VADDR_OFFSET);
        assertEquals(16, VfioDmaMap.IOVA_OFFSET);
        assertEquals(24, VfioDmaMap.SIZE_OFFSET);

        assertEquals(24, VfioDmaUnmap.SIZE);
        assertEquals(4, VfioDmaUnmap.FLAGS_OFFSET);
        assertEquals(8, VfioDmaUnmap.IOVA_OFFSET);
        assertEquals(16, VfioDmaUnmap.SIZE_OFFSET);
        assertEquals(24, VfioDmaUnmap.DATA_OFFSET);

        assertEquals(16, VfioIrqInfo.SIZE);
    }
}
