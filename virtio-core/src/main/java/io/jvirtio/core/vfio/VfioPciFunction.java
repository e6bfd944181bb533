package io.jvirtio.core.vfio;

import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.pci.PciAddress;
import io.jvirtio.core.pci.PciBar;
import io.jvirtio.core.pci.PciFunction;
import io.jvirtio.sys.Errno;
import io.jvirtio.sys.LinuxConstants;
import io.jvirtio.sys.Native;
import io.jvirtio.sys.NativeException;
import io.jvirtio.sys.vfio.VfioDeviceInfo;
import io.jvirtio.sys.vfio.VfioIommuType1Info;
import io.jvirtio.sys.vfio.VfioIoctl;
import io.jvirtio.sys.vfio.VfioIrqInfo;
import io.jvirtio.sys.vfio.VfioPciIndex;
import io.jvirtio.sys.vfio.VfioRegionInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A PCI function bound to vfio-pci, opened through kernel VFIO (type1v2 IOMMU container, group,
 * device fd) the way DPDK's {@code rte_vfio_setup_device} and libblkio do it.
 *
 * <p>Config space goes through {@code pread}/{@code pwrite} on the config region. A memory BAR is
 * mmapped on first use when VFIO allows it ({@code VFIO_REGION_INFO_FLAG_MMAP}, sparse areas
 * respected), reached by {@code pread}/{@code pwrite} otherwise; so only the BARs the driver asks
 * for are mapped. The function's memory domain is mapped for DMA at IOVA = virtual address by
 * {@link #mapDma}. {@link #close()} undoes everything in the kernel's order.
 *
 * <p>Thread-safe. BAR accesses are allocation-free.
 */
public final class VfioPciFunction implements PciFunction {
    private static final Logger LOG = LoggerFactory.getLogger(VfioPciFunction.class);

    // <linux/pci_regs.h>
    /** {@code PCI_COMMAND}. */
    static final int PCI_COMMAND = 0x04;
    /** {@code PCI_COMMAND_MEMORY}: decode memory BARs (vfio-pci revokes BAR mmaps while it is off). */
    static final int PCI_COMMAND_MEMORY = 0x2;
    /** {@code PCI_COMMAND_MASTER}: the function may DMA. */
    static final int PCI_COMMAND_MASTER = 0x4;
    /** {@code PCI_COMMAND_INTX_DISABLE}: completions are polled, no legacy interrupt. */
    static final int PCI_COMMAND_INTX_DISABLE = 0x400;
    /** {@code PCI_BASE_ADDRESS_0}. */
    static final int PCI_BASE_ADDRESS_0 = 0x10;
    /** {@code PCI_BASE_ADDRESS_SPACE_IO}: bit 0 of a BAR register, an I/O BAR. */
    static final int PCI_BASE_ADDRESS_SPACE_IO = 0x1;
    /** PCIe extended config space size; larger config regions are not read. */
    static final int PCI_CFG_SPACE_EXP_SIZE = 4096;
    private static final int BAR_COUNT = 6;
    /** Bound on the {@code argsz} the kernel may ask for a region's capabilities (40 bytes seen). */
    private static final int MAX_INFO_ARGSZ = 64 * 1024;

    private final PciAddress address;
    private final VfioOptions options;
    private final Path groupFile;
    private VfioContainer container;
    private VfioGroup group;
    private DeviceFd device;
    private VfioDeviceInfo info;
    private final VfioRegionInfo[] regions = new VfioRegionInfo[VfioPciIndex.VFIO_PCI_NUM_REGIONS];
    private VfioRegionInfo config;
    private int configSize;
    private final Optional<PciBar>[] bars;
    /** BAR mmaps: one shared arena scopes every BAR segment, closed before the munmaps */
    private final Arena barArena = Arena.ofShared();
    private final List<long[]> barMappings = new ArrayList<>();
    private VfioDmaMapping dma;
    private boolean claimed;
    private boolean closed;

    @SuppressWarnings("unchecked")
    private VfioPciFunction(PciAddress address, VfioOptions options, Path groupFile) {
        this.address = address;
        this.options = options;
        this.groupFile = groupFile;
        this.bars = new Optional[BAR_COUNT];
    }

    /**
     * Opens the function at {@code address}: checks sysfs (the function exists, VFIO is loaded, it
     * is bound to vfio-pci, it has an IOMMU group), opens the group (permission, busy, viable) and
     * the container (type1v2), attaches them, gets the device fd, reads its regions, enables
     * memory decoding and bus mastering and disables INTx. On failure everything opened is closed.
     *
     * @throws VfioException naming the function, what is wrong and the fix
     */
    public static VfioPciFunction open(PciAddress address, VfioOptions options) {
        SysfsPci sysfs = new SysfsPci(options.sysfsPci());
        if (!sysfs.exists(address)) {
            throw VfioErrors.noSuchFunction(address, sysfs.deviceDir(address));
        }
        if (!Files.isDirectory(options.devVfio())) {
            throw VfioErrors.noVfio(address, options.devVfio(), sysfs);
        }
        Optional<String> driver = sysfs.driver(address);
        if (!driver.equals(Optional.of(SysfsPci.VFIO_PCI))) {
            throw VfioErrors.notBound(address, driver, sysfs);
        }
        OptionalInt groupNumber = sysfs.iommuGroup(address);
        if (groupNumber.isEmpty()) {
            throw VfioErrors.noIommuGroup(address, sysfs.deviceDir(address));
        }
        int n = groupNumber.getAsInt();
        Path groupFile = options.devVfio().resolve(Integer.toString(n));
        if (!Files.exists(groupFile)) {
            throw VfioErrors.groupFileMissing(address, n, groupFile);
        }
        VfioPciFunction f = new VfioPciFunction(address, options, groupFile);
        try {
            VfioGroupClaims.claim(groupFile, n, address);
            f.claimed = true;
            f.group = VfioGroup.open(address, n, groupFile, sysfs);
            f.container = VfioContainer.open(address, options.devVfio().resolve("vfio"));
            f.group.setContainer(f.container);
            f.container.setIommu();
            f.device = new DeviceFd(address, f.group.deviceFd());
            f.readDevice();
            f.enableCommand();
            if (f.supportsReset()) {
                // as DPDK's rte_vfio_setup_device: start from a clean function whatever its last user left
                // (BARs are mapped on first use, after this, so no mapping is revoked under us)
                f.reset();
            }
        } catch (RuntimeException e) {
            try {
                f.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        LOG.info("VFIO {}: open (group {}, device flags 0x{}, config {} bytes, IOVA ranges {})", address, n,
                Integer.toHexString(f.info.flags()), f.configSize, f.container.iommuInfo().ranges());
        return f;
    }

    /** DEVICE_GET_INFO, the regions, the IRQ indexes (logged only: completions are polled). */
    private void readDevice() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(VfioDeviceInfo.SIZE, 8);
            VfioDeviceInfo.prepare(buf);
            Native.ioctl(device.fd(), VfioIoctl.VFIO_DEVICE_GET_INFO, buf);
            info = VfioDeviceInfo.decode(buf);
        } catch (NativeException e) {
            throw new VfioException("PCI function " + address + ": VFIO_DEVICE_GET_INFO failed: " + e.getMessage(), e);
        }
        if (!info.pci() || info.numRegions() <= VfioPciIndex.VFIO_PCI_CONFIG_REGION_INDEX) {
            throw new VfioException("PCI function " + address + ": VFIO reports flags 0x" + Integer.toHexString(info.flags()) + " and "
                    + info.numRegions() + " regions: not a vfio-pci device with a config region");
        }
        for (int i = 0; i < Math.min(info.numRegions(), regions.length); i++) {
            regions[i] = regionInfo(i).orElse(null);
            if (regions[i] != null && regions[i].size() != 0) {
                LOG.debug("VFIO {}: region {} flags 0x{} size 0x{} offset 0x{}{}{}", address, i, Integer.toHexString(regions[i].flags()),
                        Long.toHexString(regions[i].size()), Long.toHexString(regions[i].offset()),
                        regions[i].sparseMmap().map(a -> " sparse " + a).orElse(""), regions[i].msixMappable() ? " msix-mappable" : "");
            }
        }
        config = regions[VfioPciIndex.VFIO_PCI_CONFIG_REGION_INDEX];
        int rw = VfioRegionInfo.FLAG_READ | VfioRegionInfo.FLAG_WRITE;
        if (config == null || config.size() < 64 || (config.flags() & rw) != rw) {
            throw new VfioException("PCI function " + address + ": VFIO gives no readable and writable config region");
        }
        configSize = (int) Math.min(config.size(), PCI_CFG_SPACE_EXP_SIZE);
        for (int i = 0; i < info.numIrqs(); i++) {
            irqInfo(i).ifPresent(q -> LOG.debug("VFIO {}: irq index {} flags 0x{} count {}", address, q.index(), Integer.toHexString(q.flags()), q.count()));
        }
    }

    /**
     * GET_REGION_INFO, asked again with the {@code argsz} the kernel wants when capabilities did
     * not fit (DPDK's {@code pci_vfio_get_region_info}). EINVAL means the function has no such
     * region (VGA on a non-VGA function).
     */
    private Optional<VfioRegionInfo> regionInfo(int index) {
        int argsz = VfioRegionInfo.SIZE;
        while (true) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(argsz, 8);
                VfioRegionInfo.prepare(buf, argsz, index);
                Native.ioctl(device.fd(), VfioIoctl.VFIO_DEVICE_GET_REGION_INFO, buf);
                int need = VfioRegionInfo.argszNeeded(buf);
                if (need <= argsz) {
                    return Optional.of(VfioRegionInfo.decode(buf, argsz));
                }
                if (need > MAX_INFO_ARGSZ) {
                    throw new VfioException("PCI function " + address + ": GET_REGION_INFO(" + index + ") asks for an argsz of " + need);
                }
                argsz = need;
            } catch (NativeException e) {
                if (e.errno() == Errno.EINVAL) {
                    return Optional.empty();
                }
                throw new VfioException("PCI function " + address + ": VFIO_DEVICE_GET_REGION_INFO(" + index + ") failed: " + e.getMessage(), e);
            }
        }
    }

    /** GET_IRQ_INFO; EINVAL means no such index (ERR on a conventional PCI function). */
    private Optional<VfioIrqInfo> irqInfo(int index) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(VfioIrqInfo.SIZE, 8);
            VfioIrqInfo.prepare(buf, index);
            Native.ioctl(device.fd(), VfioIoctl.VFIO_DEVICE_GET_IRQ_INFO, buf);
            return Optional.of(VfioIrqInfo.decode(buf));
        } catch (NativeException e) {
            if (e.errno() == Errno.EINVAL) {
                return Optional.empty();
            }
            throw new VfioException("PCI function " + address + ": VFIO_DEVICE_GET_IRQ_INFO(" + index + ") failed: " + e.getMessage(), e);
        }
    }

    /** MEMORY before any BAR access, MASTER for DMA, INTX_DISABLE: we poll (DPDK, libblkio). */
    private void enableCommand() {
        int before = readConfig16(PCI_COMMAND);
        int after = before | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE;
        if (after != before) {
            writeConfig16(PCI_COMMAND, after);
        }
        LOG.debug("VFIO {}: PCI_COMMAND 0x{} -> 0x{}", address, Integer.toHexString(before), Integer.toHexString(readConfig16(PCI_COMMAND)));
    }

    /**
     * Makes every region of {@code memory} reachable by the device at IOVA = virtual address, now
     * and as regions are added or removed later, until {@link #close()}. One domain per function.
     *
     * @throws VfioException naming the region when the IOMMU refuses it (outside its IOVA ranges,
     *         locked-memory limit); then nothing stays mapped
     */
    public void mapDma(MemoryDomain memory) {
        VfioDmaMapping mapping;
        synchronized (this) {
            ensureOpen();
            if (dma != null) {
                throw new IllegalStateException("VFIO " + address + ": a memory domain is already mapped for DMA");
            }
            mapping = new VfioDmaMapping(address.toString(), container);
            dma = mapping;
        }
        try {
            mapping.attach(memory);
        } catch (RuntimeException e) {
            synchronized (this) {
                dma = null;
            }
            throw e;
        }
    }

    /** @return the IOMMU's page sizes, IOVA ranges (end inclusive) and mapping budget */
    public VfioIommuType1Info iommuInfo() {
        return container.iommuInfo();
    }

    /** @return the region infos VFIO gave (index → info), absent regions empty */
    public Optional<VfioRegionInfo> region(int index) {
        return index >= 0 && index < regions.length ? Optional.ofNullable(regions[index]) : Optional.empty();
    }

    @Override
    public PciAddress address() {
        return address;
    }

    @Override
    public int configSize() {
        return configSize;
    }

    private long configAt(int offset, int width) {
        if (offset < 0 || offset > configSize - width || (offset & (width - 1)) != 0) {
            throw new IndexOutOfBoundsException("PCI function " + address + ": " + (width * 8) + "-bit config access at 0x"
                    + Integer.toHexString(offset) + " is outside the " + configSize + "-byte config space or unaligned");
        }
        return config.offset() + offset;
    }

    @Override public int readConfig8(int offset) { return device.read8(configAt(offset, 1)); }
    @Override public int readConfig16(int offset) { return device.read16(configAt(offset, 2)); }
    @Override public int readConfig32(int offset) { return device.read32(configAt(offset, 4)); }
    @Override public void writeConfig16(int offset, int value) { device.write16(configAt(offset, 2), value); }

    /**
     * {@inheritDoc}
     *
     * <p>Mapped on first call: mmap when VFIO allows it and {@link VfioOptions#barAccess()} does not
     * say {@code FILE_ONLY}, else {@code pread}/{@code pwrite}.
     */
    @Override
    public synchronized Optional<PciBar> bar(int index) {
        if (index < 0 || index >= BAR_COUNT) {
            throw new IllegalArgumentException("PCI function " + address + ": BAR index " + index + " (0..5)");
        }
        ensureOpen();
        if (bars[index] == null) {
            bars[index] = openBar(index);
        }
        return bars[index];
    }

    private Optional<PciBar> openBar(int index) {
        VfioRegionInfo r = regions[index];
        if (r == null || r.size() == 0) {
            return Optional.empty(); // absent, or the upper half of a 64-bit BAR
        }
        if ((readConfig32(PCI_BASE_ADDRESS_0 + 4 * index) & PCI_BASE_ADDRESS_SPACE_IO) != 0) {
            return Optional.empty();
        }
        FilePciBar file = new FilePciBar(index, r.size(), r.offset(), device);
        if (options.barAccess() == VfioOptions.BarAccess.FILE_ONLY || !r.mappable()) {
            LOG.debug("VFIO {}: {}", address, file);
            return Optional.of(file);
        }
        List<VfioRegionInfo.Area> areas = r.sparseMmap().orElse(List.of(new VfioRegionInfo.Area(0, r.size())));
        List<long[]> mapped = new ArrayList<>();
        List<MemorySegment> segments = new ArrayList<>();
        try {
            for (VfioRegionInfo.Area a : areas) {
                if (a.size() == 0 || a.offset() < 0 || a.offset() + a.size() > r.size()) {
                    continue; // nothing to map, or an area the region does not hold
                }
                long at = Native.mmap(0, a.size(), LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE, LinuxConstants.MAP_SHARED,
                        device.fd(), r.offset() + a.offset());
                mapped.add(new long[] {at, a.size(), a.offset()});
                segments.add(MemorySegment.ofAddress(at).reinterpret(a.size(), barArena, null));
            }
        } catch (NativeException e) {
            for (long[] m : mapped) {
                Native.munmap(m[0], m[1]);
            }
            throw new VfioException("PCI function " + address + ": mmap of BAR" + index + " failed: " + e.getMessage(), e);
        }
        barMappings.addAll(mapped);
        long[] starts = mapped.stream().mapToLong(m -> m[2]).toArray();
        MappedPciBar bar = new MappedPciBar(index, r.size(), starts, segments.toArray(MemorySegment[]::new), file);
        LOG.debug("VFIO {}: {}", address, bar);
        return Optional.of(bar);
    }

    @Override
    public boolean supportsReset() {
        return info.resettable();
    }

    /**
     * {@code VFIO_DEVICE_RESET}; the command register is set again after it.
     *
     * @throws UnsupportedOperationException without {@code VFIO_DEVICE_FLAGS_RESET}
     */
    @Override
    public synchronized void reset() {
        ensureOpen();
        if (!supportsReset()) {
            throw new UnsupportedOperationException("PCI function " + address + " cannot be reset through VFIO (no VFIO_DEVICE_FLAGS_RESET: "
                    + "no FLR, PM or bus reset; put it behind a PCIe root port)");
        }
        try {
            Native.ioctl(device.fd(), VfioIoctl.VFIO_DEVICE_RESET);
        } catch (NativeException e) {
            throw new VfioException("PCI function " + address + ": VFIO_DEVICE_RESET failed: " + e.getMessage(), e);
        }
        enableCommand();
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("VFIO " + address + " is closed");
        }
    }

    /**
     * Bus mastering off (the device stops DMA), DMA unmapped and the memory listener removed while
     * the container is open, BARs unmapped, device fd closed, group taken out of the container and
     * closed, container closed (plan §2.4, libblkio's and DPDK's order). Idempotent; every step runs
     * even when an earlier one failed, and the first failure is thrown at the end.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        List<RuntimeException> failures = new ArrayList<>();
        if (device != null && config != null) {
            step(failures, () -> writeConfig16(PCI_COMMAND, readConfig16(PCI_COMMAND) & ~PCI_COMMAND_MASTER));
        }
        if (dma != null) {
            step(failures, dma::detach);
        }
        step(failures, this::unmapBars);
        if (device != null) {
            step(failures, device::close);
        }
        if (group != null) {
            step(failures, group::close);
        }
        if (container != null) {
            step(failures, container::close);
        }
        if (claimed) {
            VfioGroupClaims.release(groupFile, address);
        }
        if (!failures.isEmpty()) {
            RuntimeException first = failures.getFirst();
            failures.stream().skip(1).forEach(first::addSuppressed);
            throw first;
        }
        if (group != null) {
            LOG.debug("VFIO {}: closed", address);
        }
    }

    private void unmapBars() {
        barArena.close(); // later BAR accesses throw instead of touching unmapped memory
        for (long[] m : barMappings) {
            Native.munmap(m[0], m[1]);
        }
        barMappings.clear();
    }

    private void step(List<RuntimeException> failures, Runnable step) {
        try {
            step.run();
        } catch (RuntimeException e) {
            LOG.warn("VFIO {}: close: {}", address, e.toString());
            failures.add(e);
        }
    }

    @Override
    public String toString() {
        return "VfioPciFunction[" + address + "]";
    }
}
