package io.jvirtio.core.vfio;

import io.jvirtio.sys.vfio.VfioIommuType1Info;

/** The container's DMA mapping calls, as {@link VfioDmaMapping} needs them; tests fake it. */
interface DmaMapper {
    /** @return the IOMMU's page sizes, IOVA ranges and mapping budget */
    VfioIommuType1Info iommuInfo();

    /**
     * {@code VFIO_IOMMU_MAP_DMA} read/write of {@code [vaddr, vaddr + size)} at {@code iova}.
     *
     * @throws io.jvirtio.sys.NativeException with the kernel's errno when refused
     */
    void mapDma(long vaddr, long iova, long size);

    /**
     * {@code VFIO_IOMMU_UNMAP_DMA} of {@code [iova, iova + size)}.
     *
     * @return the bytes the kernel unmapped
     */
    long unmapDma(long iova, long size);
}
