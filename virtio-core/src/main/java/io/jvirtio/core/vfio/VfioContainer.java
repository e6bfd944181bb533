package io.jvirtio.core.vfio;

import io.jvirtio.core.pci.PciAddress;
import io.jvirtio.sys.Errno;
import io.jvirtio.sys.LinuxConstants;
import io.jvirtio.sys.Native;
import io.jvirtio.sys.NativeException;
import io.jvirtio.sys.vfio.VfioDmaMap;
import io.jvirtio.sys.vfio.VfioDmaUnmap;
import io.jvirtio.sys.vfio.VfioIommuType1Info;
import io.jvirtio.sys.vfio.VfioIoctl;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * A VFIO container ({@code /dev/vfio/vfio}) with the type1v2 IOMMU: the DMA address space the
 * function's group is attached to. Opened and checked (API version, type1v2) before a group is
 * attached; {@link #setIommu()} only works once one is ({@code vfio.h}: "A group must be set to
 * this file descriptor before this ioctl is available").
 */
final class VfioContainer implements DmaMapper, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VfioContainer.class);
    /** Bound on the {@code argsz} the kernel may ask for (116 bytes seen). */
    private static final int MAX_INFO_ARGSZ = 64 * 1024;

    private final PciAddress function;
    private final Path path;
    private final int fd;
    private VfioIommuType1Info info;
    private boolean closed;

    private VfioContainer(PciAddress function, Path path, int fd) {
        this.function = function;
        this.path = path;
        this.fd = fd;
    }

    /**
     * Opens and checks the container.
     *
     * @throws VfioException on permission denied, a wrong API version or no type1v2
     */
    static VfioContainer open(PciAddress function, Path path) {
        int fd;
        try {
            fd = Native.open(path.toString(), LinuxConstants.O_RDWR | LinuxConstants.O_CLOEXEC);
        } catch (NativeException e) {
            if (e.errno() == Errno.EACCES || e.errno() == Errno.EPERM) {
                throw VfioErrors.permissionDenied(function, path, e);
            }
            throw new VfioException("PCI function " + function + ": cannot open the VFIO container " + path + ": " + e.getMessage(), e);
        }
        VfioContainer c = new VfioContainer(function, path, fd);
        try {
            int version = ioctlOrExplain(c, VfioIoctl.VFIO_GET_API_VERSION);
            if (version != VfioIoctl.VFIO_API_VERSION) {
                throw new VfioException("PCI function " + function + ": " + path + " speaks VFIO API version " + version + ", jvirtio knows "
                        + VfioIoctl.VFIO_API_VERSION);
            }
            if (Native.ioctl(fd, VfioIoctl.VFIO_CHECK_EXTENSION, VfioIoctl.VFIO_TYPE1v2_IOMMU) != 1) {
                throw VfioErrors.noType1v2(function, path);
            }
            return c;
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
    }

    private static int ioctlOrExplain(VfioContainer c, long request) {
        try {
            return Native.ioctl(c.fd, request);
        } catch (NativeException e) {
            throw new VfioException("PCI function " + c.function + ": " + c.path + " is not a VFIO container (" + e.getMessage() + ")", e);
        }
    }

    /** @return the container fd (for {@code VFIO_GROUP_SET_CONTAINER}) */
    int fd() {
        return fd;
    }

    /** {@code VFIO_SET_IOMMU(TYPE1v2)}, then reads the IOMMU's info. A group must be attached. */
    void setIommu() {
        try {
            Native.ioctl(fd, VfioIoctl.VFIO_SET_IOMMU, VfioIoctl.VFIO_TYPE1v2_IOMMU);
        } catch (NativeException e) {
            throw new VfioException("PCI function " + function + ": VFIO_SET_IOMMU(type1v2) failed: " + e.getMessage(), e);
        }
        info = queryInfo();
        LOG.debug("VFIO {}: IOMMU page sizes 0x{}, IOVA ranges {}, DMA mappings left {}", function, Long.toHexString(info.pageSizes()),
                info.ranges(), info.dmaAvail());
    }

    /** {@code VFIO_IOMMU_GET_INFO}, asked again with the {@code argsz} the kernel wants for its capabilities. */
    private VfioIommuType1Info queryInfo() {
        int argsz = VfioIommuType1Info.SIZE;
        while (true) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(argsz, 8);
                VfioIommuType1Info.prepare(buf, argsz);
                Native.ioctl(fd, VfioIoctl.VFIO_IOMMU_GET_INFO, buf);
                int need = VfioIommuType1Info.argszNeeded(buf);
                if (need <= argsz) {
                    return VfioIommuType1Info.decode(buf, argsz);
                }
                if (need > MAX_INFO_ARGSZ) {
                    throw new VfioException("PCI function " + function + ": VFIO_IOMMU_GET_INFO asks for an argsz of " + need + " bytes");
                }
                argsz = need;
            } catch (NativeException e) {
                throw new VfioException("PCI function " + function + ": VFIO_IOMMU_GET_INFO failed: " + e.getMessage(), e);
            }
        }
    }

    @Override
    public VfioIommuType1Info iommuInfo() {
        if (info == null) {
            throw new IllegalStateException("VFIO container of " + function + ": no IOMMU set yet");
        }
        return info;
    }

    @Override
    public void mapDma(long vaddr, long iova, long size) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(VfioDmaMap.SIZE, 8);
            VfioDmaMap.prepare(buf, VfioDmaMap.FLAG_READ | VfioDmaMap.FLAG_WRITE, vaddr, iova, size);
            Native.ioctl(fd, VfioIoctl.VFIO_IOMMU_MAP_DMA, buf);
        }
    }

    @Override
    public long unmapDma(long iova, long size) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(VfioDmaUnmap.SIZE, 8);
            VfioDmaUnmap.prepare(buf, 0, iova, size);
            Native.ioctl(fd, VfioIoctl.VFIO_IOMMU_UNMAP_DMA, buf);
            return VfioDmaUnmap.unmappedSize(buf);
        }
    }

    /** Closes the fd (the kernel drops whatever is still mapped). Idempotent. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Native.close(fd);
        }
    }
}
