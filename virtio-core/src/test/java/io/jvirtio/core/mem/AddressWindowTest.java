package io.jvirtio.core.mem;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class AddressWindowTest {
    private static final long MIB2 = 2L << 20;
    private static final long TOP_39 = 0x7f_ffff_ffffL;

    @Test
    void containsIsInclusiveOfTheEndAndUnsigned() {
        AddressWindow w = AddressWindow.of(0x1000, 0x1fff);
        assertTrue(w.contains(0x1000, 0x1000), "end inclusive: the whole range fits");
        assertFalse(w.contains(0x1000, 0x1001));
        assertFalse(w.contains(0xfff, 2));
        assertFalse(w.contains(0x1800, 0), "an empty span is in no range");
        assertFalse(w.contains(-4096, 8192), "a span wrapping around 2^64 is never inside");
        assertTrue(AddressWindow.of(0, -1L).contains(0xffff_0000_0000_0000L, 4096), "unsigned ends");
        assertTrue(AddressWindow.ANY.contains(0x7fff_0000_0000L, 1L << 30));
        assertSame(AddressWindow.ANY, AddressWindow.of(List.of()));
        assertThrows(IllegalArgumentException.class, () -> new AddressWindow.Range(10, 9));
    }

    @Test
    void aVfio39BitWindowIsPlacedAbove4GiBFromItsLargestRange() {
        // what VFIO_IOMMU_GET_INFO reports under QEMU's default intel-iommu: the MSI window is a hole
        AddressWindow w = AddressWindow.of(List.of(new AddressWindow.Range(0, 0xfedf_ffffL), new AddressWindow.Range(0xfef0_0000L, TOP_39)));
        assertEquals(List.of(new AddressWindow.Range(1L << 32, TOP_39)), w.placementRanges(64 << 20));
        assertEquals(0x7f_fc00_0000L, AddressWindow.highestSlot(1L << 32, TOP_39, 64 << 20), "top slot, 2 MiB-aligned");
    }

    @Test
    void theLow4GiBOnlyWhenNothingAboveCanHoldTheRegion() {
        AddressWindow w = AddressWindow.of(List.of(new AddressWindow.Range(0x1000_0000L, 0x3fff_ffffL),
                new AddressWindow.Range(0x1_0000_0000L, 0x1_001f_ffffL)));
        assertEquals(List.of(new AddressWindow.Range(0x1_0000_0000L, 0x1_001f_ffffL)), w.placementRanges(MIB2));
        assertEquals(List.of(new AddressWindow.Range(0x1000_0000L, 0x3fff_ffffL)), w.placementRanges(2 * MIB2),
                "4 MiB do not fit above 4 GiB");
        assertEquals(List.of(), w.placementRanges(1L << 30), "1 GiB fits nowhere");
    }

    @Test
    void placementStaysBelowTheDefaultUserAddressLimit() {
        AddressWindow w48 = AddressWindow.of(0, 0xffff_ffff_ffffL);
        AddressWindow.Range r = w48.placementRanges(MIB2).getFirst();
        assertEquals(AddressWindow.PLACEMENT_TOP, r.end());
        assertEquals(1L << 32, r.start());
    }

    @Test
    void highestSlotIsAlignedAndInsideOrNone() {
        assertEquals(0x20_0000L, AddressWindow.highestSlot(0x10_0000L, 0x5f_ffffL, MIB2 * 2));
        assertEquals(-1, AddressWindow.highestSlot(0x10_0000L, 0x3f_ffffL, MIB2 * 2), "3 MiB unaligned cannot hold 4 MiB aligned");
        assertEquals(-1, AddressWindow.highestSlot(0, MIB2 - 2, MIB2));
    }
}
