package io.jvirtio.core.vfio;

import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.mem.MemoryRegion;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.sys.Errno;
import io.jvirtio.sys.NativeException;
import io.jvirtio.sys.vfio.VfioIommuType1Info;
import io.jvirtio.sys.vfio.VfioIommuType1Info.IovaRange;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VfioDmaMappingTest {
    private static final long MIB2 = 2L << 20;
    /** aw-bits=48 as the guest reported it */
    private static final List<IovaRange> AW48 = List.of(new IovaRange(0, 0xfedfffffL), new IovaRange(0xfef00000L, 0xffffffffffffL));

    /** Records MAP_DMA / UNMAP_DMA; refuses with an errno on demand. */
    static final class FakeContainer implements DmaMapper {
        final List<String> calls = new ArrayList<>();
        VfioIommuType1Info info;
        int refuseWith;
        long shortUnmapBy;

        FakeContainer(List<IovaRange> ranges, OptionalInt avail) {
            info = new VfioIommuType1Info(3, 0x40201000L, ranges, avail);
        }

        @Override
        public VfioIommuType1Info iommuInfo() {
            return info;
        }

        @Override
        public void mapDma(long vaddr, long iova, long size) {
            if (refuseWith != 0) {
                throw new NativeException("ioctl(VFIO_IOMMU_MAP_DMA)", refuseWith);
            }
            assertEquals(vaddr, iova, "IOVA = vaddr");
            calls.add("map 0x" + Long.toHexString(iova) + " " + size);
        }

        @Override
        public long unmapDma(long iova, long size) {
            calls.add("unmap 0x" + Long.toHexString(iova) + " " + size);
            return size - shortUnmapBy;
        }
    }

    private static String map(MemoryRegion r) {
        return "map 0x" + Long.toHexString(r.address()) + " " + r.length();
    }

    private static String unmap(MemoryRegion r) {
        return "unmap 0x" + Long.toHexString(r.address()) + " " + r.length();
    }

    @Test
    void mapsEveryRegionThenFollowsAddsAndRemovals() {
        FakeContainer c = new FakeContainer(AW48, OptionalInt.of(65535));
        VfioDmaMapping m = new VfioDmaMapping("0000:00:05.0", c);
        try (MemoryDomain d = MemoryDomain.create("t", MIB2, HugePagePolicy.NEVER)) {
            MemoryRegion first = d.regions().getFirst();
            m.attach(d);
            assertEquals(List.of(map(first)), c.calls);
            d.allocate(MIB2 + 4096, 4096); // does not fit the first region: a second one
            MemoryRegion second = d.regions().get(1);
            assertEquals(List.of(map(first), map(second)), c.calls);
            d.close();
            assertEquals(List.of(map(first), map(second), unmap(second), unmap(first)), c.calls);
            assertEquals(0, m.mappings().size());
            m.detach(); // nothing left: no more calls
            assertEquals(4, c.calls.size());
        }
    }

    @Test
    void detachUnmapsAndStopsListening() {
        FakeContainer c = new FakeContainer(AW48, OptionalInt.empty());
        VfioDmaMapping m = new VfioDmaMapping("0000:00:05.0", c);
        try (MemoryDomain d = MemoryDomain.create("t", MIB2, HugePagePolicy.NEVER)) {
            m.attach(d);
            m.detach();
            MemoryRegion first = d.regions().getFirst();
            assertEquals(List.of(map(first), unmap(first)), c.calls);
            d.allocate(MIB2 + 4096, 4096);
            assertEquals(2, c.calls.size(), "no longer listening");
        }
    }

    @Test
    void refusedNewRegionIsRolledBackByTheDomain() {
        FakeContainer c = new FakeContainer(AW48, OptionalInt.empty());
        VfioDmaMapping m = new VfioDmaMapping("0000:00:05.0", c);
        try (MemoryDomain d = MemoryDomain.create("t", MIB2, HugePagePolicy.NEVER)) {
            m.attach(d);
            c.refuseWith = Errno.ENOMEM;
            VirtioException e = assertThrows(VirtioException.class, () -> d.allocate(MIB2 + 4096, 4096));
            assertTrue(e.getMessage().contains("RLIMIT_MEMLOCK") && e.getMessage().contains("ulimit -l"), e.getMessage());
            assertEquals(1, d.regions().size(), "the refused region is gone");
            assertEquals(1, m.mappings().size());
            c.refuseWith = 0;
            d.allocate(MIB2 + 4096, 4096);
            assertEquals(2, m.mappings().size(), "a later region maps");
        }
    }

    @Test
    void regionOutsideTheIovaRangesIsRefusedBeforeTheIoctl() {
        // aw-bits=39: a JVM mmap address (0x7f..., 47 bits) is outside
        List<IovaRange> aw39 = List.of(new IovaRange(0, 0xfedfffffL), new IovaRange(0xfef00000L, 0x7fffffffffL));
        FakeContainer c = new FakeContainer(aw39, OptionalInt.empty());
        VfioDmaMapping m = new VfioDmaMapping("0000:00:05.0", c);
        try (MemoryDomain d = MemoryDomain.create("t", MIB2, HugePagePolicy.NEVER)) {
            MemoryRegion r = d.regions().getFirst();
            if (aw39.get(1).contains(r.address(), r.length())) {
                return; // the kernel placed it low: nothing to show
            }
            VfioException e = assertThrows(VfioException.class, () -> m.attach(d));
            assertTrue(e.getMessage().contains("0x" + Long.toHexString(r.address())), e.getMessage());
            assertTrue(e.getMessage().contains("0xfef00000-0x7fffffffff"), e.getMessage());
            assertTrue(e.getMessage().contains("aw-bits=48") && e.getMessage().contains("39 bits"), e.getMessage());
            assertEquals(List.of(), c.calls, "no ioctl");
            d.allocate(MIB2 + 4096, 4096);
            assertEquals(List.of(), c.calls, "not listening after a failed attach");
        }
    }

    @Test
    void failedAttachUnmapsWhatItMapped() {
        FakeContainer c = new FakeContainer(AW48, OptionalInt.of(1));
        try (MemoryDomain d = MemoryDomain.create("t", MIB2, HugePagePolicy.NEVER)) {
            d.allocate(MIB2 + 4096, 4096); // two regions now
            VfioDmaMapping m = new VfioDmaMapping("0000:00:05.0", c);
            VfioException e = assertThrows(VfioException.class, () -> m.attach(d));
            assertTrue(e.getMessage().contains("dma_entry_limit"), e.getMessage());
            MemoryRegion first = d.regions().getFirst();
            assertEquals(List.of(map(first), unmap(first)), c.calls);
        }
    }

    @Test
    void shortUnmapIsAnError() {
        FakeContainer c = new FakeContainer(AW48, OptionalInt.empty());
        VfioDmaMapping m = new VfioDmaMapping("0000:00:05.0", c);
        try (MemoryDomain d = MemoryDomain.create("t", MIB2, HugePagePolicy.NEVER)) {
            m.attach(d);
            c.shortUnmapBy = 4096;
            VfioException e = assertThrows(VfioException.class, m::detach);
            assertTrue(e.getSuppressed()[0].getMessage().contains("unmapped " + (MIB2 - 4096) + " of " + MIB2), e.getSuppressed()[0].getMessage());
        }
    }

    @Test
    void einvalNamesTheRangesAndPageSizes() {
        FakeContainer c = new FakeContainer(List.of(), OptionalInt.empty());
        c.refuseWith = Errno.EINVAL;
        VfioDmaMapping m = new VfioDmaMapping("0000:00:05.0", c);
        try (MemoryDomain d = MemoryDomain.create("t", MIB2, HugePagePolicy.NEVER)) {
            VfioException e = assertThrows(VfioException.class, () -> m.attach(d));
            assertTrue(e.getMessage().contains("refused MAP_DMA") && e.getMessage().contains("page sizes 0x40201000"), e.getMessage());
        }
    }
}
