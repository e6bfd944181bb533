package io.jvirtio.core.mem;

import io.jvirtio.spec.VirtioException;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class MemoryDomainTest {
    private static final long MIB2 = 2L << 20;

    @Test
    void regionsAre2MiBAlignedAndSharedAndAllocationsAreZeroed() {
        try (MemoryDomain d = MemoryDomain.create("t", 3 << 20, HugePagePolicy.NEVER)) {
            MemoryRegion r = d.regions().getFirst();
            assertEquals(0, r.address() % MIB2, "2 MiB-aligned");
            assertEquals(4L << 20, r.length(), "rounded up to 2 MiB multiples");
            MemorySegment a = d.allocate(4096, 4096);
            a.fill((byte) 7);
            d.free(a);
            MemorySegment b = d.allocate(4096, 4096);
            assertEquals(0, b.get(ValueLayout.JAVA_BYTE, 100), "reused memory comes back zeroed");
            assertTrue(d.contains(b));
            assertFalse(d.contains(MemorySegment.ofArray(new byte[16])), "heap memory is never device memory");
        }
    }

    @Test
    void growsByANewRegionAndTellsListeners() {
        try (MemoryDomain d = MemoryDomain.create("t", MIB2, HugePagePolicy.NEVER)) {
            List<MemoryRegion> added = new ArrayList<>();
            d.addListener(new MemoryListener() {
                @Override
                public void regionAdded(MemoryRegion region) {
                    added.add(region);
                }

                @Override
                public void regionRemoved(MemoryRegion region) {
                    added.remove(region);
                }
            });
            d.allocate(MIB2, 4096);
            MemorySegment big = d.allocate(3 * MIB2, 4096);
            assertEquals(1, added.size(), "one new region for the allocation that did not fit");
            assertTrue(added.getFirst().contains(big.address(), big.byteSize()));
        }
    }

    @Test
    void aRegionADeviceRefusesIsRolledBack() {
        try (MemoryDomain d = MemoryDomain.create("t", MIB2, HugePagePolicy.NEVER)) {
            List<String> events = new ArrayList<>();
            d.addListener(new MemoryListener() {
                @Override
                public void regionAdded(MemoryRegion region) {
                    events.add("added-ok");
                }

                @Override
                public void regionRemoved(MemoryRegion region) {
                    events.add("removed-ok");
                }
            });
            d.addListener(new MemoryListener() {
                @Override
                public void regionAdded(MemoryRegion region) {
                    throw new VirtioException("no free memory slot");
                }

                @Override
                public void regionRemoved(MemoryRegion region) {
                    events.add("removed-refuser");
                }
            });
            d.allocate(MIB2, 4096);
            VirtioException e = assertThrows(VirtioException.class, () -> d.allocate(MIB2, 4096));
            assertTrue(e.getMessage().contains("no free memory slot"), e.getMessage());
            assertEquals(List.of("added-ok", "removed-ok"), events, "the listener that accepted it is told it is gone");
            assertEquals(1, d.regions().size(), "the refused region is not kept");
        }
    }

    @Test
    void accessAfterCloseThrowsInsteadOfCrashing() {
        MemoryDomain d = MemoryDomain.create("t", MIB2, HugePagePolicy.NEVER);
        MemorySegment s = d.allocate(4096, 4096);
        d.close();
        assertThrows(IllegalStateException.class, () -> s.get(ValueLayout.JAVA_BYTE, 0));
        assertDoesNotThrow(() -> d.free(s), "free after close is a no-op");
    }

    @Test
    void hugePagesWhenRequiredOrAClearError() {
        try {
            try (MemoryDomain d = MemoryDomain.create("t", MIB2, HugePagePolicy.REQUIRE)) {
                assertTrue(d.hugePages());
            }
        } catch (VirtioException e) {
            assertTrue(e.getMessage().contains("hugepages"), e.getMessage());
            assertEquals(0, HugePages.free(), "REQUIRE fails only when no hugepage is free: " + e.getMessage());
        }
    }
}
