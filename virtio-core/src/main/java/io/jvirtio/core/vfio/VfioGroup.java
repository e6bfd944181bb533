package io.jvirtio.core.vfio;

import io.jvirtio.core.pci.PciAddress;
import io.jvirtio.sys.Errno;
import io.jvirtio.sys.LinuxConstants;
import io.jvirtio.sys.Native;
import io.jvirtio.sys.NativeException;
import io.jvirtio.sys.vfio.VfioGroupStatus;
import io.jvirtio.sys.vfio.VfioIoctl;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * A VFIO group ({@code /dev/vfio/N}): the unit of isolation the IOMMU gives. Opened and checked
 * for viability; attached to a container; hands out the function's device fd.
 */
final class VfioGroup implements AutoCloseable {
    private final PciAddress function;
    private final int number;
    private final Path path;
    private final int fd;
    private boolean containerSet;
    private boolean closed;

    private VfioGroup(PciAddress function, int number, Path path, int fd) {
        this.function = function;
        this.number = number;
        this.path = path;
        this.fd = fd;
    }

    /**
     * Opens the group and checks it is viable.
     *
     * @throws VfioException on permission denied, busy, not a group, not viable (listing the group's devices)
     */
    static VfioGroup open(PciAddress function, int number, Path path, SysfsPci sysfs) {
        int fd;
        try {
            fd = Native.open(path.toString(), LinuxConstants.O_RDWR | LinuxConstants.O_CLOEXEC);
        } catch (NativeException e) {
            throw switch (e.errno()) {
                case Errno.EACCES, Errno.EPERM -> VfioErrors.permissionDenied(function, path, e);
                case Errno.EBUSY -> VfioErrors.groupBusy(function, number, path, e);
                default -> new VfioException("PCI function " + function + ": cannot open VFIO group " + path + ": " + e.getMessage(), e);
            };
        }
        VfioGroup g = new VfioGroup(function, number, path, fd);
        try {
            VfioGroupStatus status = g.status();
            if (!status.viable()) {
                throw VfioErrors.notViable(function, number, sysfs.groupMembers(function));
            }
            if (status.containerSet()) {
                throw VfioErrors.groupBusy(function, number, path, null);
            }
            return g;
        } catch (RuntimeException e) {
            g.close();
            throw e;
        }
    }

    /** {@code VFIO_GROUP_GET_STATUS}. */
    VfioGroupStatus status() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(VfioGroupStatus.SIZE, 8);
            VfioGroupStatus.prepare(buf);
            Native.ioctl(fd, VfioIoctl.VFIO_GROUP_GET_STATUS, buf);
            return VfioGroupStatus.decode(buf);
        } catch (NativeException e) {
            throw new VfioException("PCI function " + function + ": " + path + " is not a VFIO group (VFIO_GROUP_GET_STATUS: "
                    + e.getMessage() + ")", e);
        }
    }

    /** {@code VFIO_GROUP_SET_CONTAINER}: the argument is a pointer to the container fd. */
    void setContainer(VfioContainer container) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment containerFd = arena.allocate(JAVA_INT);
            containerFd.set(JAVA_INT, 0, container.fd());
            Native.ioctl(fd, VfioIoctl.VFIO_GROUP_SET_CONTAINER, containerFd);
            containerSet = true;
        } catch (NativeException e) {
            if (e.errno() == Errno.EBUSY) {
                throw VfioErrors.groupBusy(function, number, path, e);
            }
            throw new VfioException("PCI function " + function + ": VFIO_GROUP_SET_CONTAINER on " + path + " failed: " + e.getMessage(), e);
        }
    }

    /** {@code VFIO_GROUP_GET_DEVICE_FD} by the function's sysfs name. */
    int deviceFd() {
        try (Arena arena = Arena.ofConfined()) {
            return Native.ioctl(fd, VfioIoctl.VFIO_GROUP_GET_DEVICE_FD, arena.allocateFrom(function.toString()));
        } catch (NativeException e) {
            throw new VfioException("PCI function " + function + ": VFIO_GROUP_GET_DEVICE_FD on " + path + " failed"
                    + (e.errno() == Errno.EBUSY ? " (the device is already open)" : "") + ": " + e.getMessage(), e);
        }
    }

    /** {@code VFIO_GROUP_UNSET_CONTAINER} if set, then closes the fd. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (containerSet) {
                containerSet = false;
                Native.ioctl(fd, VfioIoctl.VFIO_GROUP_UNSET_CONTAINER);
            }
        } finally {
            Native.close(fd);
        }
    }

    /** @return the group number */
    int number() {
        return number;
    }
}
