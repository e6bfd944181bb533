package io.jvirtio.core.vfio;

import io.jvirtio.spec.VirtioException;
import io.jvirtio.sys.vfio.VfioIommuType1Info;
import io.jvirtio.sys.vfio.VfioRegionInfo;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.OptionalInt;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Capability chains as the kernel wrote them in the guest (vfio-plan.md §2.3, §4), and broken ones. */
class VfioInfoCapsTest {
    private final Arena arena = Arena.ofAuto();

    private static void cap(MemorySegment b, int at, int id, int version, int next) {
        b.set(JAVA_SHORT_UNALIGNED, at, (short) id);
        b.set(JAVA_SHORT_UNALIGNED, at + 2, (short) version);
        b.set(JAVA_INT_UNALIGNED, at + 4, next);
    }

    /**
     * The 116-byte IOMMU_GET_INFO answer of the aw-bits=39 guest: flags 0x3, page sizes 0x40201000,
     * migration@24 (32 bytes), dma_avail@56 (12 bytes: so the next cap is only 4-byte aligned),
     * iova_range@68 with two ranges, whose u64s sit at 84 and 100.
     */
    private MemorySegment iommuInfo116() {
        MemorySegment b = arena.allocate(116, 8);
        b.set(JAVA_INT, 0, 116);
        b.set(JAVA_INT, 4, VfioIommuType1Info.INFO_PGSIZES | VfioIommuType1Info.INFO_CAPS);
        b.set(JAVA_LONG, 8, 0x40201000L);
        b.set(JAVA_INT, 16, 24);
        cap(b, 24, VfioIommuType1Info.CAP_MIGRATION, 1, 56);
        b.set(JAVA_INT_UNALIGNED, 32, 1);
        b.set(JAVA_LONG_UNALIGNED, 40, 0x40201000L);
        b.set(JAVA_LONG_UNALIGNED, 48, 1L << 32);
        cap(b, 56, VfioIommuType1Info.CAP_DMA_AVAIL, 1, 68);
        b.set(JAVA_INT_UNALIGNED, 64, 65535);
        cap(b, 68, VfioIommuType1Info.CAP_IOVA_RANGE, 1, 0);
        b.set(JAVA_INT_UNALIGNED, 76, 2);
        b.set(JAVA_LONG_UNALIGNED, 84, 0L);
        b.set(JAVA_LONG_UNALIGNED, 92, 0xfedfffffL);
        b.set(JAVA_LONG_UNALIGNED, 100, 0xfef00000L);
        b.set(JAVA_LONG_UNALIGNED, 108, 0x7fffffffffL);
        return b;
    }

    @Test
    void iommuInfoOfTheGuestParsesWithUnalignedCapabilities() {
        VfioIommuType1Info info = VfioIommuType1Info.decode(iommuInfo116(), 116);
        assertEquals(0x40201000L, info.pageSizes());
        assertEquals(List.of(new VfioIommuType1Info.IovaRange(0, 0xfedfffffL), new VfioIommuType1Info.IovaRange(0xfef00000L, 0x7fffffffffL)),
                info.ranges());
        assertEquals(OptionalInt.of(65535), info.dmaAvail());
        assertTrue(info.iovaUsable(0x10_0000_0000L, 2 << 20));
        assertTrue(info.iovaUsable(0x7fffe00000L, 2 << 20), "the range end is inclusive");
        assertFalse(info.iovaUsable(0x7fffe00000L, 4 << 20), "crosses the end");
        assertFalse(info.iovaUsable(0xfee00000L, 4096), "the MSI hole");
        assertFalse(info.iovaUsable(0x7f59_0000_0000L, 2 << 20), "a JVM mmap address under aw-bits=39");
    }

    @Test
    void shortFirstAnswerAsksForMoreAndHasNoCapabilities() {
        MemorySegment b = arena.allocate(24, 8);
        b.set(JAVA_INT, 0, 116);
        b.set(JAVA_INT, 4, VfioIommuType1Info.INFO_PGSIZES | VfioIommuType1Info.INFO_CAPS);
        b.set(JAVA_LONG, 8, 0x40201000L);
        assertEquals(116, VfioIommuType1Info.argszNeeded(b));
        VfioIommuType1Info info = VfioIommuType1Info.decode(b, 24);
        assertEquals(List.of(), info.ranges());
    }

    @Test
    void regionWithSparseMmapAndMsixMappable() {
        MemorySegment b = arena.allocate(32 + 16 + 32 + 8, 8);
        b.set(JAVA_INT, 0, 88);
        b.set(JAVA_INT, 4, VfioRegionInfo.FLAG_READ | VfioRegionInfo.FLAG_WRITE | VfioRegionInfo.FLAG_MMAP | VfioRegionInfo.FLAG_CAPS);
        b.set(JAVA_INT, 8, 1);
        b.set(JAVA_INT, 12, 32);
        b.set(JAVA_LONG, 16, 0x4000);
        b.set(JAVA_LONG, 24, 0x10000000000L);
        cap(b, 32, VfioRegionInfo.CAP_SPARSE_MMAP, 1, 80);
        b.set(JAVA_INT_UNALIGNED, 40, 2);
        b.set(JAVA_LONG_UNALIGNED, 48, 0);
        b.set(JAVA_LONG_UNALIGNED, 56, 0x1000);
        b.set(JAVA_LONG_UNALIGNED, 64, 0x2000);
        b.set(JAVA_LONG_UNALIGNED, 72, 0x2000);
        cap(b, 80, VfioRegionInfo.CAP_MSIX_MAPPABLE, 1, 0);
        VfioRegionInfo r = VfioRegionInfo.decode(b, 88);
        assertEquals(1, r.index());
        assertEquals(0x4000, r.size());
        assertEquals(0x10000000000L, r.offset());
        assertTrue(r.mappable());
        assertEquals(List.of(new VfioRegionInfo.Area(0, 0x1000), new VfioRegionInfo.Area(0x2000, 0x2000)), r.sparseMmap().orElseThrow());
        assertTrue(r.msixMappable());
    }

    @Test
    void regionOfTheGuestWithOnlyMsixMappable() {
        // BAR1 of QEMU's virtio-blk-pci: flags 0xf, argsz 40, cap id 3 at 32
        MemorySegment b = arena.allocate(40, 8);
        b.set(JAVA_INT, 0, 40);
        b.set(JAVA_INT, 4, 0xf);
        b.set(JAVA_INT, 8, 1);
        b.set(JAVA_INT, 12, 32);
        b.set(JAVA_LONG, 16, 0x1000);
        b.set(JAVA_LONG, 24, 0x10000000000L);
        cap(b, 32, VfioRegionInfo.CAP_MSIX_MAPPABLE, 1, 0);
        VfioRegionInfo r = VfioRegionInfo.decode(b, 40);
        assertTrue(r.msixMappable());
        assertTrue(r.sparseMmap().isEmpty());
    }

    @Test
    void nextOutOfBoundsIsRefused() {
        MemorySegment b = iommuInfo116();
        b.set(JAVA_INT_UNALIGNED, 56 + 4, 112); // dma_avail's next: only 4 bytes left for an 8-byte header
        VirtioException e = assertThrows(VirtioException.class, () -> VfioIommuType1Info.decode(b, 116));
        assertTrue(e.getMessage().contains("VFIO_IOMMU_GET_INFO") && e.getMessage().contains("offset 112"), e.getMessage());
    }

    @Test
    void capabilityInsideTheFixedStructIsRefused() {
        MemorySegment b = iommuInfo116();
        b.set(JAVA_INT, 16, 8);
        VirtioException e = assertThrows(VirtioException.class, () -> VfioIommuType1Info.decode(b, 116));
        assertTrue(e.getMessage().contains("offset 8"), e.getMessage());
    }

    @Test
    void loopIsRefused() {
        MemorySegment b = iommuInfo116();
        b.set(JAVA_INT_UNALIGNED, 68 + 4, 24); // iova_range points back at migration
        VirtioException e = assertThrows(VirtioException.class, () -> VfioIommuType1Info.decode(b, 116));
        assertTrue(e.getMessage().contains("loops back to offset 24"), e.getMessage());
    }

    @Test
    void capabilityBodyPastTheEndIsRefused() {
        MemorySegment b = iommuInfo116();
        b.set(JAVA_INT_UNALIGNED, 76, 3); // three ranges do not fit in 116 bytes
        VirtioException e = assertThrows(VirtioException.class, () -> VfioIommuType1Info.decode(b, 116));
        assertTrue(e.getMessage().contains("capability id 1 at offset 68"), e.getMessage());
        MemorySegment r = arena.allocate(48, 8);
        r.set(JAVA_INT, 0, 48);
        r.set(JAVA_INT, 4, VfioRegionInfo.FLAG_CAPS);
        r.set(JAVA_INT, 12, 32);
        cap(r, 32, VfioRegionInfo.CAP_SPARSE_MMAP, 1, 0);
        r.set(JAVA_INT_UNALIGNED, 40, 0x1000_0000); // a huge nr_areas must not overflow the check
        assertThrows(VirtioException.class, () -> VfioRegionInfo.decode(r, 48));
    }
}
