package io.jvirtio.core.vfio;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Where kernel VFIO and sysfs are, and how BARs are reached.
 *
 * @param devVfio   the VFIO device directory, normally {@code /dev/vfio}
 * @param sysfsPci  the PCI devices directory, normally {@code /sys/bus/pci/devices}
 * @param barAccess how BARs are accessed
 */
public record VfioOptions(Path devVfio, Path sysfsPci, BarAccess barAccess) {
    /** How BARs are accessed. */
    public enum BarAccess {
        /** mmap a BAR when VFIO lets it be mapped, {@code pread}/{@code pwrite} on the device fd otherwise */
        MAP_WHEN_POSSIBLE,
        /** always {@code pread}/{@code pwrite} on the device fd (one syscall per access) */
        FILE_ONLY
    }

    /** @throws NullPointerException on a null part */
    public VfioOptions {
        Objects.requireNonNull(devVfio, "devVfio");
        Objects.requireNonNull(sysfsPci, "sysfsPci");
        Objects.requireNonNull(barAccess, "barAccess");
    }

    /** @return {@code /dev/vfio}, {@code /sys/bus/pci/devices}, BARs mapped when possible */
    public static VfioOptions defaults() {
        return new VfioOptions(Path.of("/dev/vfio"), Path.of("/sys/bus/pci/devices"), BarAccess.MAP_WHEN_POSSIBLE);
    }

    /** @return these options with another BAR access */
    public VfioOptions withBarAccess(BarAccess access) {
        return new VfioOptions(devVfio, sysfsPci, access);
    }
}
