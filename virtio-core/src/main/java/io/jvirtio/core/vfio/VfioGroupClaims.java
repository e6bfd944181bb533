package io.jvirtio.core.vfio;

import io.jvirtio.core.pci.PciAddress;

import java.nio.file.Path;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which IOMMU groups this process has open, so a second function of the same group gets a clear
 * "already in use by this process" instead of the kernel's bare EBUSY. (Sharing one group and
 * container between two functions is possible in VFIO; jvirtio does not do it yet.)
 */
final class VfioGroupClaims {
    private static final ConcurrentHashMap<Path, PciAddress> HELD = new ConcurrentHashMap<>();

    private VfioGroupClaims() {
    }

    /**
     * @param groupFile the group's {@code /dev/vfio/N}
     * @throws VfioException naming the holder when the group is already open here
     */
    static void claim(Path groupFile, int group, PciAddress function) {
        PciAddress holder = HELD.putIfAbsent(groupFile.toAbsolutePath().normalize(), function);
        if (holder != null) {
            throw VfioErrors.groupInUseHere(function, group, holder);
        }
    }

    /** Gives a claim back. */
    static void release(Path groupFile, PciAddress function) {
        HELD.remove(groupFile.toAbsolutePath().normalize(), function);
    }
}
