package io.jvirtio.backend.mem;

import io.jvirtio.core.mem.MemoryRegion;
import io.jvirtio.spec.vhostuser.VhostUserMemoryRegion;
import io.jvirtio.backend.testing.FrontEndMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Address translation of the front-end's memory table: bounds, both address kinds, overlaps, regions side by side. */
class GuestMemoryTest {
    private FrontEndMemory fe;
    private final List<MappedRegion> mapped = new ArrayList<>();

    @BeforeEach
    void setUp() {
        fe = new FrontEndMemory("gm", 2 << 20);
    }

    @AfterEach
    void tearDown() {
        mapped.forEach(MappedRegion::unmap);
        fe.close();
    }

    private MappedRegion map(long gpa, long size, long uva, long offset) {
        MemoryRegion r = fe.domain().regions().getFirst();
        MappedRegion m = MappedRegion.map(new VhostUserMemoryRegion(gpa, size, uva, offset), r.fd());
        mapped.add(m);
        return m;
    }

    @Test
    void translatesGuestAndUserAddressesInsideTheRegionOnly() {
        MemoryRegion r = fe.domain().regions().getFirst();
        MemorySegment.ofAddress(r.address()).reinterpret(r.length()).set(ValueLayout.JAVA_LONG, 4096, 0x1122334455667788L);
        GuestMemory g = GuestMemory.of(List.of(map(0x100000, r.length(), 0x7000_0000_0000L, 0)));
        assertEquals(0x1122334455667788L, g.gpa(0x100000 + 4096, 8).get(ValueLayout.JAVA_LONG, 0), "same bytes as the front-end's");
        assertEquals(0x1122334455667788L, g.uva(0x7000_0000_0000L + 4096, 8).get(ValueLayout.JAVA_LONG, 0));
        assertNotNull(g.gpa(0x100000 + r.length() - 8, 8), "the last 8 bytes");
        assertNull(g.gpa(0x100000 + r.length() - 8, 9), "one byte past the end");
        assertNull(g.gpa(0xfffff, 2), "one byte before the start");
        assertNull(g.gpa(-1L, 2), "wrapping");
        assertNull(g.uva(0x100000, 8), "a guest address is not a user address");
        assertFalse(g.gpaPieces(-8L, 16, p -> fail("nothing handed out")));
    }

    @Test
    void aBufferSpanningAdjacentRegionsComesInPieces() {
        // the same fd mapped twice as two adjacent guest regions (mmap_offset 0 and 1 MiB)
        MappedRegion a = map(0x200000, 1 << 20, 0x1_0000_0000L, 0);
        MappedRegion b = map(0x300000, 1 << 20, 0x2_0000_0000L, 1 << 20);
        GuestMemory g = GuestMemory.EMPTY.with(a).with(b);
        List<MemorySegment> pieces = new ArrayList<>();
        assertTrue(g.gpaPieces(0x300000 - 100, 300, pieces::add));
        assertEquals(2, pieces.size());
        assertEquals(100, pieces.get(0).byteSize());
        assertEquals(200, pieces.get(1).byteSize());
        assertNull(g.gpa(0x300000 - 100, 300), "a ring part must lie in one region");
        pieces.clear();
        assertFalse(g.gpaPieces(0x400000 - 100, 200, pieces::add), "past the second region");
        assertTrue(pieces.isEmpty(), "all or nothing");
    }

    @Test
    void overlapsAreRefusedNamingTheRegion() {
        MappedRegion a = map(0x200000, 1 << 20, 0x1_0000_0000L, 0);
        GuestMemory g = GuestMemory.EMPTY.with(a);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> g.checkNoOverlap(0x2ff000, 0x8000_0000L, 0x2000, "test"));
        assertTrue(e.getMessage().contains("guest range [0x2ff000, +0x2000) overlaps region{gpa=0x200000"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> g.checkNoOverlap(0x9000_0000L, 0x1_0000_0000L + 4096, 0x1000, "test"));
        assertTrue(e.getMessage().contains("user range"), e.getMessage());
        assertSame(a, g.find(new VhostUserMemoryRegion(0x200000, 1 << 20, 0x1_0000_0000L, 12345)), "REM_MEM_REG ignores mmap_offset");
        assertEquals(0, g.without(a).size());
    }
}
