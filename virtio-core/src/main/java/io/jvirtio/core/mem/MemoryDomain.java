package io.jvirtio.core.mem;

import io.jvirtio.spec.VirtioException;
import io.jvirtio.sys.Errno;
import io.jvirtio.sys.LinuxConstants;
import io.jvirtio.sys.Native;
import io.jvirtio.sys.NativeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.jvirtio.sys.LinuxConstants.HUGE_PAGE_2M;

/**
 * The memory a device can see (SPDK's env memory, DPDK's memsegs): fd-backed regions mapped
 * {@code MAP_SHARED} at 2 MiB-aligned addresses, sizes in 2 MiB multiples, and an allocator over
 * them. Rings and every I/O buffer must come from here: a vhost-user back-end maps exactly these
 * fds, a VFIO IOMMU maps exactly these ranges.
 *
 * <p>Backing: 2 MiB hugetlb memfd when {@link HugePagePolicy} allows and enough pages are free,
 * plain memfd otherwise. SPDK's vhost target crashes on 4 KiB-page front-end memory, so the plain
 * fallback is logged as a warning naming the fix.
 *
 * <p>Placement: a domain may have an {@link AddressWindow} (a VFIO IOMMU's IOVA ranges), and then
 * every region, the first and each one it grows by, lies inside it. The kernel's choice of address
 * is kept when it is inside; otherwise the region is mapped {@code MAP_FIXED_NOREPLACE} at
 * 2 MiB-aligned slots inside the window, from the top of its largest range downwards, skipping
 * slots something else occupies ({@code EEXIST}). The device address stays the virtual address.
 *
 * <p>Thread-safe; allocation is a setup-time operation (it takes a lock and may add a region).
 */
public final class MemoryDomain implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MemoryDomain.class);

    /** Default size of a domain's first region and of each growth step. */
    public static final long DEFAULT_REGION_BYTES = 32 * HUGE_PAGE_2M;
    /**
     * How many occupied slots placement skips before giving up: each is one failed
     * {@code mmap} (about a microsecond), and 8192 slots of 2 MiB step over 16 GiB of other
     * mappings (a JVM heap, class space, another domain).
     */
    static final int MAX_PLACEMENT_ATTEMPTS = 8192;
    private static final int PROT_RW = LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE;

    private final String name;
    private final HugePagePolicy policy;
    private final long growBytes;
    private final AddressWindow window;
    private final List<Region> regions = new ArrayList<>();
    private final CopyOnWriteArrayList<MemoryListener> listeners = new CopyOnWriteArrayList<>();
    /** regions as published to lock-free readers; replaced whole on every change */
    private volatile MemoryRegion[] snapshot = new MemoryRegion[0];
    private boolean closed;

    private record Region(MemoryRegion region, RegionAllocator allocator, Arena arena) {
    }

    private MemoryDomain(String name, HugePagePolicy policy, long growBytes, AddressWindow window) {
        this.name = name;
        this.policy = policy;
        this.growBytes = roundUp2M(growBytes);
        this.window = window;
    }

    /**
     * Creates a domain with one region of {@code initialBytes} (rounded up to 2 MiB).
     *
     * @param name         a name for logs and the memfds
     * @param initialBytes the first region's size; later regions are as large or as large as asked
     * @param policy       the backing policy
     * @return the domain
     * @throws VirtioException when the memory cannot be had under {@code policy}
     */
    public static MemoryDomain create(String name, long initialBytes, HugePagePolicy policy) {
        return create(name, initialBytes, policy, AddressWindow.ANY);
    }

    /**
     * Creates a domain whose regions, the first and every later one, lie inside {@code window}.
     *
     * @param name         a name for logs and the memfds
     * @param initialBytes the first region's size; later regions are as large or as large as asked
     * @param policy       the backing policy
     * @param window       where the regions must lie; {@link AddressWindow#ANY} for anywhere
     * @return the domain
     * @throws VirtioException when the memory cannot be had under {@code policy}, or no room for
     *                         the first region is found inside {@code window} (the message names both)
     */
    public static MemoryDomain create(String name, long initialBytes, HugePagePolicy policy, AddressWindow window) {
        MemoryDomain domain = new MemoryDomain(name, policy, initialBytes, window);
        domain.addRegion(roundUp2M(initialBytes));
        return domain;
    }

    /** @return a domain of {@link #DEFAULT_REGION_BYTES} with {@link HugePagePolicy#AUTO} */
    public static MemoryDomain createDefault(String name) {
        return create(name, DEFAULT_REGION_BYTES, HugePagePolicy.AUTO);
    }

    /** @return the domain's name */
    public String name() {
        return name;
    }

    /** @return where the domain's regions lie */
    public AddressWindow window() {
        return window;
    }

    /**
     * Allocates zero-filled device-visible memory.
     *
     * @param size      bytes, &gt; 0
     * @param alignment a power of two
     * @return a segment whose {@code address()} is also its device address
     */
    public synchronized MemorySegment allocate(long size, long alignment) {
        if (size <= 0 || Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("memory domain " + name + ": bad allocation size=" + size + " alignment=" + alignment);
        }
        ensureOpen();
        for (Region r : regions) {
            long off = r.allocator.allocate(size, alignment);
            if (off >= 0) {
                return zeroed(r, off, size);
            }
        }
        Region r = addRegion(Math.max(growBytes, roundUp2M(size + alignment)));
        long off = r.allocator.allocate(size, alignment);
        if (off < 0) {
            throw new VirtioException("memory domain " + name + ": cannot place " + size + " bytes aligned " + alignment + " in a new region");
        }
        return zeroed(r, off, size);
    }

    private static MemorySegment zeroed(Region r, long off, long size) {
        MemorySegment s = r.region.segment().asSlice(off, size);
        s.fill((byte) 0);
        return s;
    }

    /**
     * Returns memory from {@link #allocate}. The region stays mapped (devices keep their tables).
     *
     * @param segment a segment returned by {@link #allocate}
     */
    public synchronized void free(MemorySegment segment) {
        if (closed) {
            return; // everything went back with the mappings
        }
        long addr = segment.address();
        for (Region r : regions) {
            if (r.region.contains(addr, 0) && r.allocator.free(addr - r.region.address())) {
                return;
            }
        }
        throw new IllegalArgumentException("memory domain " + name + ": 0x" + Long.toHexString(addr) + " was not allocated here");
    }

    /**
     * Lock-free and allocation-free: the I/O path checks every buffer with it.
     *
     * @return whether {@code [address, address+length)} lies inside one region
     */
    public boolean contains(long address, long length) {
        for (MemoryRegion r : snapshot) {
            if (r.contains(address, length)) {
                return true;
            }
        }
        return false;
    }

    /** @return whether {@code segment} lies inside one region, so a device can reach it */
    public boolean contains(MemorySegment segment) {
        return segment.isNative() && contains(segment.address(), segment.byteSize());
    }

    /** @return a snapshot of the regions, in creation order */
    public synchronized List<MemoryRegion> regions() {
        List<MemoryRegion> out = new ArrayList<>(regions.size());
        for (Region r : regions) {
            out.add(r.region);
        }
        return out;
    }

    /** @return whether every region is hugetlb-backed */
    public synchronized boolean hugePages() {
        return regions.stream().allMatch(r -> r.region.hugePages());
    }

    /** Subscribes a backend to region changes. Existing regions are not replayed: read {@link #regions()}. */
    public void addListener(MemoryListener listener) {
        listeners.add(listener);
    }

    /** Unsubscribes a backend. */
    public void removeListener(MemoryListener listener) {
        listeners.remove(listener);
    }

    private void ensureOpen() {
        if (closed) {
            throw new VirtioException("memory domain " + name + " is closed");
        }
    }

    private Region addRegion(long length) {
        String memfdName = "jvirtio-" + name + "-" + regions.size();
        boolean huge = wantHugePages(length);
        try {
            return addRegionWith(memfdName, length, huge);
        } catch (NativeException e) {
            if (huge && policy == HugePagePolicy.AUTO) {
                LOG.warn("memory domain {}: hugetlb memfd of {} bytes failed ({}); falling back to 4 KiB pages. "
                        + "SPDK vhost targets crash on such memory: reserve hugepages (echo 1024 > /proc/sys/vm/nr_hugepages)",
                        name, length, e.getMessage());
                return addRegionWith(memfdName, length, false);
            }
            throw new VirtioException("memory domain " + name + ": cannot map a region of " + length + " bytes"
                    + (huge ? " on 2 MiB hugepages (free: " + HugePages.free() + ")" : ""), e);
        }
    }

    private Region addRegionWith(String memfdName, long length, boolean huge) {
        int fd = createMemfd(memfdName, huge);
        long base;
        try {
            Native.ftruncate(fd, length);
            base = mapAligned(fd, length, window);
            if (base < 0) {
                base = placeInWindow(fd, length);
            }
        } catch (RuntimeException e) {
            Native.closeQuietly(fd);
            throw e;
        }
        // A shared arena scopes every segment of the region: once the domain is closed an access
        // throws IllegalStateException instead of touching unmapped memory (a JVM crash).
        Arena arena = Arena.ofShared();
        MemorySegment segment = MemorySegment.ofAddress(base).reinterpret(length, arena, null);
        return register(new MemoryRegion(memfdName, fd, base, length, 0, huge, segment), arena);
    }

    /**
     * Publishes a region and tells the backends. When one refuses it (a back-end out of memory
     * slots, a refused ADD_MEM_REG), the region is withdrawn from those already told and unmapped:
     * no allocation may land in memory a device cannot reach.
     */
    private Region register(MemoryRegion region, Arena arena) {
        Region r = new Region(region, new RegionAllocator(region.length()), arena);
        regions.add(r);
        publish();
        List<MemoryListener> told = new ArrayList<>();
        try {
            for (MemoryListener l : listeners) {
                l.regionAdded(region);
                told.add(l);
            }
        } catch (RuntimeException e) {
            for (int i = told.size() - 1; i >= 0; i--) {
                try {
                    told.get(i).regionRemoved(region);
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            regions.remove(r);
            publish();
            unmap(r);
            throw new VirtioException("memory domain " + name + ": a device refused new region " + region + ": " + e.getMessage(), e);
        }
        LOG.debug("memory domain {}: added {}", name, region);
        return r;
    }

    private void publish() {
        snapshot = regions.stream().map(Region::region).toArray(MemoryRegion[]::new);
    }

    private boolean wantHugePages(long length) {
        return switch (policy) {
            case NEVER -> false;
            case REQUIRE -> true;
            case AUTO -> {
                long pages = length / HUGE_PAGE_2M;
                long free = HugePages.free() - HugePages.reserved();
                if (free >= pages) {
                    yield true;
                }
                LOG.warn("memory domain {}: {} free 2 MiB hugepages, {} needed; using 4 KiB-page memfd. "
                        + "SPDK vhost targets crash on such memory: reserve hugepages (echo 1024 > /proc/sys/vm/nr_hugepages)",
                        name, Math.max(free, 0), pages);
                yield false;
            }
        };
    }

    private static int createMemfd(String memfdName, boolean huge) {
        int flags = LinuxConstants.MFD_CLOEXEC;
        if (huge) {
            flags |= LinuxConstants.MFD_HUGETLB | LinuxConstants.MFD_HUGE_2MB;
        }
        return Native.memfdCreate(memfdName, flags);
    }

    /**
     * Maps {@code fd} MAP_SHARED at a 2 MiB-aligned address: reserve {@code length + 2 MiB} of
     * address space, map the fd over the aligned part with MAP_FIXED, give back head and tail.
     * Back-ends floor region addresses to 2 MiB; an unaligned front-end region breaks them.
     *
     * @return the address, or -1 when the kernel's choice is outside {@code window} (nothing is
     *         mapped then: the fd is not populated twice)
     */
    private static long mapAligned(int fd, long length, AddressWindow window) {
        long span = length + HUGE_PAGE_2M;
        long reserve = Native.mmap(0, span, LinuxConstants.PROT_NONE,
                LinuxConstants.MAP_PRIVATE | LinuxConstants.MAP_ANONYMOUS | LinuxConstants.MAP_NORESERVE, -1, 0);
        long aligned = (reserve + HUGE_PAGE_2M - 1) & -HUGE_PAGE_2M;
        if (!window.contains(aligned, length)) {
            Native.munmap(reserve, span);
            return -1;
        }
        try {
            Native.mmap(aligned, length, PROT_RW, LinuxConstants.MAP_SHARED | LinuxConstants.MAP_FIXED | LinuxConstants.MAP_POPULATE, fd, 0);
        } catch (NativeException e) {
            Native.munmap(reserve, span);
            throw e;
        }
        if (aligned > reserve) {
            Native.munmap(reserve, aligned - reserve);
        }
        long tail = reserve + span - (aligned + length);
        if (tail > 0) {
            Native.munmap(aligned + length, tail);
        }
        return aligned;
    }

    /**
     * Maps {@code fd} inside the window: {@code MAP_FIXED_NOREPLACE} at 2 MiB-aligned slots from
     * the top of each {@linkplain AddressWindow#placementRanges placement range} downwards. A slot
     * with something mapped in it fails with {@code EEXIST} and the next lower one is tried; this
     * domain's own regions are stepped over without a system call. Any other errno (no hugepages
     * left) is the caller's, as with the kernel's choice.
     *
     * @throws VirtioException naming the window and the size when no slot is free
     */
    private long placeInWindow(int fd, long length) {
        List<AddressWindow.Range> ranges = window.placementRanges(length);
        int attempts = 0;
        for (AddressWindow.Range r : ranges) {
            long a = AddressWindow.highestSlot(r.start(), r.end(), length);
            while (a >= r.start() && attempts < MAX_PLACEMENT_ATTEMPTS) {
                MemoryRegion own = ownRegionOverlapping(a, length);
                if (own != null) {
                    a = (own.address() - length) & -HUGE_PAGE_2M;
                    continue;
                }
                attempts++;
                long got;
                try {
                    got = Native.mmap(a, length, PROT_RW,
                            LinuxConstants.MAP_SHARED | LinuxConstants.MAP_FIXED_NOREPLACE | LinuxConstants.MAP_POPULATE, fd, 0);
                } catch (NativeException e) {
                    if (e.errno() != Errno.EEXIST) {
                        throw e;
                    }
                    a -= HUGE_PAGE_2M;
                    continue;
                }
                if (got == a) {
                    LOG.info("memory domain {}: region of {} bytes placed at 0x{} inside address window {} ({} slot(s) tried)",
                            name, length, Long.toHexString(a), window, attempts);
                    return a;
                }
                // a kernel before 4.17 takes MAP_FIXED_NOREPLACE as a mere hint
                Native.munmap(got, length);
                a -= HUGE_PAGE_2M;
            }
        }
        throw new VirtioException("memory domain " + name + ": no room for a region of " + length + " bytes (" + (length >> 20)
                + " MiB) inside the address window " + window + ": "
                + (ranges.isEmpty() ? "no range of the window is large enough"
                        : attempts + " 2 MiB-aligned slots tried, all taken by other mappings")
                + " (a VFIO IOMMU with a wider address width, e.g. QEMU's intel-iommu,aw-bits=48, or a smaller memory size, avoids this)");
    }

    private MemoryRegion ownRegionOverlapping(long address, long length) {
        for (Region r : regions) {
            MemoryRegion m = r.region;
            if (address < m.address() + m.length() && m.address() < address + length) {
                return m;
            }
        }
        return null;
    }

    /** Closes the region's arena (later accesses fail cleanly), then unmaps and closes the memfd. */
    private void unmap(Region r) {
        for (int attempt = 0; ; attempt++) {
            try {
                r.arena.close();
                break;
            } catch (IllegalStateException busy) {
                // a native call is using one of its segments right now: it returns within microseconds
                if (attempt == 1000) {
                    // leaking the mapping beats unmapping memory a thread is inside of
                    LOG.warn("memory domain {}: region {} still in use at close; left mapped", name, r.region);
                    return;
                }
                Thread.onSpinWait();
            }
        }
        Native.munmap(r.region.address(), r.region.length());
        Native.closeQuietly(r.region.fd());
    }

    private static long roundUp2M(long v) {
        return Math.max(HUGE_PAGE_2M, (v + HUGE_PAGE_2M - 1) & -HUGE_PAGE_2M);
    }

    /** Unmaps every region and closes the memfds, after telling listeners. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        snapshot = new MemoryRegion[0];
        for (int i = regions.size() - 1; i >= 0; i--) {
            MemoryRegion region = regions.get(i).region;
            for (MemoryListener l : listeners) {
                try {
                    l.regionRemoved(region);
                } catch (RuntimeException e) {
                    LOG.warn("memory domain {}: listener failed on removal of {}: {}", name, region, e.toString());
                }
            }
            unmap(regions.get(i));
        }
        regions.clear();
        snapshot = new MemoryRegion[0];
        listeners.clear();
    }

    @Override
    public String toString() {
        return "MemoryDomain[" + name + ", " + regions().size() + " regions]";
    }
}
