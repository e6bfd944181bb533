package io.jvirtio.core.vfio;

import io.jvirtio.core.pci.PciAddress;
import io.jvirtio.sys.vfio.VfioIommuType1Info;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The messages of every VFIO failure a user can fix: each names the function, what was found and
 * the fix. One place, so the wording stays consistent and tests can check it without a kernel.
 */
final class VfioErrors {
    private VfioErrors() {
    }

    static VfioException noSuchFunction(PciAddress address, Path dir) {
        return new VfioException("PCI function " + address + " does not exist (no " + dir + "): check the address with lspci -D");
    }

    static VfioException noVfio(PciAddress address, Path devVfio, SysfsPci sysfs) {
        return new VfioException("PCI function " + address + ": no VFIO on this host (" + devVfio + " does not exist): "
                + "load vfio-pci (modprobe vfio-pci) and bind the device: " + bindCommands(address, sysfs));
    }

    static VfioException notBound(PciAddress address, Optional<String> driver, SysfsPci sysfs) {
        return new VfioException("PCI function " + address + " is bound to " + driver.map(d -> "driver " + d).orElse("no driver")
                + ", not " + SysfsPci.VFIO_PCI + ": bind it: " + bindCommands(address, sysfs));
    }

    /** What SPDK's setup.sh and LinuxGuest do: unbind, override, reprobe. */
    static String bindCommands(PciAddress address, SysfsPci sysfs) {
        Path dev = sysfs.deviceDir(address);
        Path probe = dev.getParent().resolveSibling("drivers_probe");
        String unbind = sysfs.driver(address).isPresent() ? "echo " + address + " > " + dev.resolve("driver/unbind") + "; " : "";
        return unbind + "echo " + SysfsPci.VFIO_PCI + " > " + dev.resolve("driver_override") + "; echo " + address + " > " + probe;
    }

    static VfioException noIommuGroup(PciAddress address, Path dir) {
        return new VfioException("PCI function " + address + " has no IOMMU group (no " + dir.resolve("iommu_group") + "): "
                + "enable the IOMMU (intel_iommu=on or amd_iommu=on on the kernel command line, VT-d/AMD-Vi in the firmware; "
                + "QEMU guest: -M q35 -device intel-iommu,intremap=on,aw-bits=48); the no-IOMMU mode is not supported");
    }

    static VfioException groupFileMissing(PciAddress address, int group, Path file) {
        return new VfioException("PCI function " + address + " is in IOMMU group " + group + " but " + file + " does not exist: "
                + "is vfio-pci really bound (the group file appears when it is)? check dmesg for vfio-pci errors");
    }

    static VfioException notViable(PciAddress address, int group, List<SysfsPci.GroupMember> members) {
        return new VfioException("IOMMU group " + group + " of PCI function " + address + " is not viable: every device of the group "
                + "must be bound to vfio-pci or to no driver; the group holds " + (members.isEmpty() ? "(devices unknown)" : members)
                + ". Bind the others to vfio-pci as well (or unbind them), or move the device to a slot with its own group");
    }

    static VfioException permissionDenied(PciAddress address, Path file, Exception cause) {
        return new VfioException("PCI function " + address + ": permission denied opening " + file + " (" + ownerAndMode(file) + "): "
                + "run as root, or give this user the file (chown USER " + file + ", or a udev rule) "
                + "and raise its locked-memory limit (ulimit -l)", cause);
    }

    static String ownerAndMode(Path file) {
        try {
            return "owner " + Files.getOwner(file).getName() + ", mode " + PosixFilePermissions.toString(Files.getPosixFilePermissions(file));
        } catch (IOException | UnsupportedOperationException e) {
            return "owner unknown";
        }
    }

    static VfioException groupBusy(PciAddress address, int group, Path file, Exception cause) {
        return new VfioException("IOMMU group " + group + " of PCI function " + address + " is busy (EBUSY): another process "
                + "(or this one, outside jvirtio) holds " + file + "; find it with fuser -v " + file, cause);
    }

    static VfioException groupInUseHere(PciAddress address, int group, PciAddress holder) {
        return new VfioException("IOMMU group " + group + " of PCI function " + address + " is already in use by this process "
                + "(function " + holder + " is open): close it first; two functions of one group cannot be opened at once");
    }

    static VfioException noType1v2(PciAddress address, Path container) {
        return new VfioException("PCI function " + address + ": " + container + " does not support the type1v2 IOMMU "
                + "(VFIO_CHECK_EXTENSION(VFIO_TYPE1v2_IOMMU) = 0): load vfio_iommu_type1 (modprobe vfio_iommu_type1) "
                + "and enable the IOMMU; the no-IOMMU mode is not supported");
    }

    static VfioException outsideIovaRanges(String function, String region, long address, long length, VfioIommuType1Info info) {
        long top = 0;
        for (VfioIommuType1Info.IovaRange r : info.ranges()) {
            top = Math.max(top, r.end());
        }
        long last = address + length - 1;
        return new VfioException("VFIO " + function + ": memory region " + region + " at 0x" + Long.toHexString(address) + "-0x"
                + Long.toHexString(last) + " is outside the IOMMU's IOVA ranges " + info.ranges()
                + ": the IOMMU's address width is too small for IOVA = virtual address (" + bits(top) + " bits, the region needs "
                + bits(last) + "); QEMU: -device intel-iommu,aw-bits=48; on hardware use an IOMMU with 48-bit addressing");
    }

    private static int bits(long v) {
        return 64 - Long.numberOfLeadingZeros(v);
    }

    static VfioException memlock(String function, String region, long length, long mappedBefore, Exception cause) {
        OptionalLong limit = memlockLimit();
        return new VfioException("VFIO " + function + ": MAP_DMA of memory region " + region + " (" + length + " bytes) failed with "
                + "ENOMEM: pinned pages count against the locked-memory limit (RLIMIT_MEMLOCK, ulimit -l: "
                + (limit.isPresent() ? (limit.getAsLong() < 0 ? "unlimited" : limit.getAsLong() / 1024 + " KiB") : "unknown")
                + "); this device needs at least " + (mappedBefore + length) / 1024 + " KiB: raise it (ulimit -l unlimited, "
                + "LimitMEMLOCK= in a systemd unit, memlock in /etc/security/limits.conf) or run with CAP_IPC_LOCK", cause);
    }

    static VfioException mapRefused(String function, String region, long address, long length, VfioIommuType1Info info, Exception cause) {
        return new VfioException("VFIO " + function + ": the IOMMU refused MAP_DMA of memory region " + region + " at 0x"
                + Long.toHexString(address) + " (" + length + " bytes, IOVA = vaddr; IOVA ranges " + info.ranges() + ", page sizes 0x"
                + Long.toHexString(info.pageSizes()) + "): " + cause.getMessage(), cause);
    }

    /** @return the soft RLIMIT_MEMLOCK in bytes from {@code /proc/self/limits}, -1 when unlimited */
    static OptionalLong memlockLimit() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
                if (line.startsWith("Max locked memory")) {
                    String soft = line.substring("Max locked memory".length()).trim().split("\\s+")[0];
                    return OptionalLong.of(soft.equals("unlimited") ? -1 : Long.parseLong(soft));
                }
            }
        } catch (IOException | RuntimeException e) {
            // unknown: the message says so
        }
        return OptionalLong.empty();
    }
}
