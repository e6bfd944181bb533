package io.jvirtio.core.vfio;

import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.mem.MemoryListener;
import io.jvirtio.core.mem.MemoryRegion;
import io.jvirtio.sys.Errno;
import io.jvirtio.sys.NativeException;
import io.jvirtio.sys.vfio.VfioIommuType1Info;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Keeps a memory domain mapped for a function's DMA at IOVA = virtual address (SPDK's "va" mode,
 * so the device address of a buffer stays {@code segment.address()}): every region at
 * {@link #attach}, each new one on {@link #regionAdded}, unmapped on {@link #regionRemoved} and
 * {@link #detach}.
 *
 * <p>A region the IOMMU cannot translate (outside its IOVA ranges, over its mapping budget) is
 * refused before the ioctl with a message naming the fix; a refusal from {@code regionAdded}
 * leaves nothing mapped, so the domain withdraws the region as it expects.
 */
final class VfioDmaMapping implements MemoryListener {
    private static final Logger LOG = LoggerFactory.getLogger(VfioDmaMapping.class);

    private final String function;
    private final DmaMapper mapper;
    /** address → region, of what is mapped, in mapping order */
    private final Map<Long, MemoryRegion> mapped = new LinkedHashMap<>();
    private MemoryDomain domain;
    private long mappedBytes;

    /** @param function names the PCI function in messages */
    VfioDmaMapping(String function, DmaMapper mapper) {
        this.function = function;
        this.mapper = mapper;
    }

    /**
     * Maps every region of {@code memory} and follows it from now on. On failure nothing stays
     * mapped and no listener stays registered.
     *
     * @throws VfioException naming the region the IOMMU refused
     */
    void attach(MemoryDomain memory) {
        // the domain's lock keeps a region from being added between the listing and the listener
        synchronized (memory) {
            synchronized (this) {
                if (domain != null) {
                    throw new IllegalStateException("VFIO " + function + ": DMA already mapped for " + domain.name());
                }
                try {
                    for (MemoryRegion r : memory.regions()) {
                        map(r);
                    }
                } catch (RuntimeException e) {
                    unmapAll(e);
                    throw e;
                }
                domain = memory;
                memory.addListener(this);
            }
        }
    }

    /** Stops following the domain and unmaps everything still mapped. Idempotent. */
    synchronized void detach() {
        if (domain != null) {
            domain.removeListener(this);
            domain = null;
        }
        RuntimeException failure = new VfioException("VFIO " + function + ": UNMAP_DMA failed");
        unmapAll(failure);
        if (failure.getSuppressed().length > 0) {
            throw failure;
        }
    }

    private void unmapAll(RuntimeException failure) {
        for (MemoryRegion r : List.copyOf(mapped.values())) {
            try {
                unmap(r);
            } catch (RuntimeException ex) {
                failure.addSuppressed(ex);
            }
        }
    }

    @Override
    public synchronized void regionAdded(MemoryRegion region) {
        map(region);
    }

    @Override
    public synchronized void regionRemoved(MemoryRegion region) {
        MemoryRegion known = mapped.get(region.address());
        if (known != null) {
            unmap(known);
        }
    }

    /** @return address → length of the current mappings (a copy) */
    synchronized Map<Long, Long> mappings() {
        Map<Long, Long> m = new LinkedHashMap<>();
        mapped.forEach((a, r) -> m.put(a, r.length()));
        return m;
    }

    private void map(MemoryRegion r) {
        VfioIommuType1Info info = mapper.iommuInfo();
        if (!info.iovaUsable(r.address(), r.length())) {
            throw VfioErrors.outsideIovaRanges(function, r.name(), r.address(), r.length(), info);
        }
        if (info.dmaAvail().isPresent() && mapped.size() >= info.dmaAvail().getAsInt()) {
            throw new VfioException("VFIO " + function + ": memory region " + r + " would be DMA mapping number " + (mapped.size() + 1)
                    + ", the container allows " + info.dmaAvail().getAsInt()
                    + " (vfio_iommu_type1 dma_entry_limit): use larger regions");
        }
        try {
            mapper.mapDma(r.address(), r.address(), r.length());
        } catch (NativeException e) {
            throw e.errno() == Errno.ENOMEM
                    ? VfioErrors.memlock(function, r.toString(), r.length(), mappedBytes, e)
                    : VfioErrors.mapRefused(function, r.toString(), r.address(), r.length(), info, e);
        }
        mapped.put(r.address(), r);
        mappedBytes += r.length();
        LOG.debug("VFIO {}: DMA mapped {} at IOVA 0x{}", function, r, Long.toHexString(r.address()));
    }

    /** UNMAP_DMA; the mapping is forgotten either way (a second try would not do better). */
    private void unmap(MemoryRegion r) {
        mapped.remove(r.address());
        mappedBytes -= r.length();
        long done;
        try {
            done = mapper.unmapDma(r.address(), r.length());
        } catch (NativeException e) {
            throw new VfioException("VFIO " + function + ": UNMAP_DMA of " + r + " failed: " + e.getMessage(), e);
        }
        if (done != r.length()) {
            throw new VfioException("VFIO " + function + ": UNMAP_DMA of " + r + " unmapped " + done + " of " + r.length() + " bytes");
        }
        LOG.debug("VFIO {}: DMA unmapped {}", function, r);
    }
}
