package io.jvirtio.core.mem;

import io.jvirtio.spec.VirtioException;
import io.jvirtio.sys.LinuxConstants;
import io.jvirtio.sys.Native;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Placement of a domain's regions inside an {@link AddressWindow}, on the host's real address space. */
class MemoryDomainWindowTest {
    private static final long MIB2 = 2L << 20;
    /** a 39-bit IOMMU's window above 64 GiB: clear of the JVM's heap and class space on x86-64 */
    private static final AddressWindow WINDOW = AddressWindow.of(0x10_0000_0000L, 0x7f_ffff_ffffL);

    @Test
    void everyRegionFirstAndGrownLiesInsideTheWindow() {
        placesFirstAndGrownInside(HugePagePolicy.NEVER);
    }

    @Test
    void hugetlbRegionsToo() {
        assumeTrue(HugePages.free() - HugePages.reserved() >= 8, "needs 8 free 2 MiB hugepages");
        placesFirstAndGrownInside(HugePagePolicy.REQUIRE);
    }

    private static void placesFirstAndGrownInside(HugePagePolicy policy) {
        try (MemoryDomain d = MemoryDomain.create("win", 2 * MIB2, policy, WINDOW)) {
            assertEquals(WINDOW, d.window());
            MemorySegment first = d.allocate(2 * MIB2, 4096);
            MemorySegment grown = d.allocate(3 * MIB2, 4096);
            MemorySegment third = d.allocate(4 * MIB2, MIB2);
            assertEquals(3, d.regions().size(), "two growth steps");
            for (MemoryRegion r : d.regions()) {
                assertTrue(WINDOW.contains(r.address(), r.length()), r + " inside " + WINDOW);
                assertEquals(0, r.address() % MIB2, r + " 2 MiB-aligned");
                assertEquals(policy == HugePagePolicy.REQUIRE, r.hugePages(), r.toString());
            }
            for (MemorySegment s : new MemorySegment[]{first, grown, third}) {
                s.set(ValueLayout.JAVA_LONG, s.byteSize() - 8, s.address());
                assertEquals(s.address(), s.get(ValueLayout.JAVA_LONG, s.byteSize() - 8), "the memory is usable");
                assertTrue(d.contains(s));
            }
        }
    }

    @Test
    void aSlotSomethingElseOccupiesIsSkipped() {
        long length = 2 * MIB2;
        long firstSlot = AddressWindow.highestSlot(WINDOW.ranges().getFirst().start(), WINDOW.ranges().getFirst().end(), length);
        // PROT_NONE anonymous mapping over the first slot's upper half, as a JVM reservation would be
        long blocker = Native.mmap(firstSlot + MIB2, MIB2, LinuxConstants.PROT_NONE,
                LinuxConstants.MAP_PRIVATE | LinuxConstants.MAP_ANONYMOUS | LinuxConstants.MAP_NORESERVE | LinuxConstants.MAP_FIXED_NOREPLACE, -1, 0);
        assertEquals(firstSlot + MIB2, blocker);
        try (MemoryDomain d = MemoryDomain.create("win", length, HugePagePolicy.NEVER, WINDOW)) {
            MemoryRegion r = d.regions().getFirst();
            assertTrue(WINDOW.contains(r.address(), r.length()), r.toString());
            assertTrue(r.address() + r.length() <= blocker, r + " below the blocker at 0x" + Long.toHexString(blocker));
            assertEquals(firstSlot - MIB2, r.address(), "the next lower slot clear of the blocker");
        } finally {
            Native.munmap(blocker, MIB2);
        }
    }

    @Test
    void aWindowTooSmallIsAClearError() {
        AddressWindow tiny = AddressWindow.of(0x20_0000_0000L, 0x20_001f_ffffL);
        VirtioException e = assertThrows(VirtioException.class, () -> MemoryDomain.create("tiny", 2 * MIB2, HugePagePolicy.NEVER, tiny));
        assertTrue(e.getMessage().contains("4194304 bytes"), e.getMessage());
        assertTrue(e.getMessage().contains(tiny.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("no range of the window is large enough"), e.getMessage());
    }

    @Test
    void aWindowFullyTakenIsAClearError() {
        long start = 0x20_0000_0000L;
        AddressWindow w = AddressWindow.of(start, start + 2 * MIB2 - 1);
        long blocker = Native.mmap(start + MIB2, MIB2, LinuxConstants.PROT_NONE,
                LinuxConstants.MAP_PRIVATE | LinuxConstants.MAP_ANONYMOUS | LinuxConstants.MAP_NORESERVE | LinuxConstants.MAP_FIXED_NOREPLACE, -1, 0);
        try {
            try (MemoryDomain d = MemoryDomain.create("full", MIB2, HugePagePolicy.NEVER, w)) {
                assertEquals(start, d.regions().getFirst().address(), "the one free slot");
                d.allocate(MIB2, 4096);
                VirtioException e = assertThrows(VirtioException.class, () -> d.allocate(4096, 4096), "growth finds no room");
                assertTrue(e.getMessage().contains(w.toString()) && e.getMessage().contains("slots tried"), e.getMessage());
                assertEquals(1, d.regions().size());
            }
        } finally {
            Native.munmap(blocker, MIB2);
        }
    }

    @Test
    void withoutAWindowTheKernelsChoiceIsKept() {
        try (MemoryDomain d = MemoryDomain.create("any", MIB2, HugePagePolicy.NEVER)) {
            assertTrue(d.window().unrestricted());
            MemoryRegion r = d.regions().getFirst();
            assertEquals(0, r.address() % MIB2);
            assertTrue(r.address() > 0x7f_ffff_ffffL, "the kernel maps top-down near 2^47, not inside any 39-bit window: " + r);
        }
    }
}
