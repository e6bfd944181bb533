package io.jvirtio.core.vfio;

import io.jvirtio.core.mem.AddressWindow;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.mem.MemoryRegion;
import io.jvirtio.sys.vfio.VfioIommuType1Info;
import io.jvirtio.sys.vfio.VfioIommuType1Info.IovaRange;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A domain placed in a 39-bit IOMMU's IOVA window maps without the "outside the IOVA ranges" refusal. */
class VfioIovaWindowTest {
    private static final long MIB2 = 2L << 20;
    /** QEMU's default intel-iommu (aw-bits=39), as VFIO_IOMMU_GET_INFO reported it in the guest */
    private static final List<IovaRange> AW39 = List.of(new IovaRange(0, 0xfedfffffL), new IovaRange(0xfef00000L, 0x7fffffffffL));

    @Test
    void theWindowIsTheIovaRanges() {
        AddressWindow w = VfioAttach.iovaWindow(new VfioIommuType1Info(3, 0x40201000L, AW39, OptionalInt.empty()));
        assertEquals(List.of(new AddressWindow.Range(0, 0xfedfffffL), new AddressWindow.Range(0xfef00000L, 0x7fffffffffL)), w.ranges());
        assertSame(AddressWindow.ANY, VfioAttach.iovaWindow(new VfioIommuType1Info(1, 0x1000, List.of(), OptionalInt.empty())),
                "no ranges reported: no restriction known");
    }

    @Test
    void aDomainInTheWindowMapsFirstAndGrownRegionsOnA39BitIommu() {
        VfioDmaMappingTest.FakeContainer container = new VfioDmaMappingTest.FakeContainer(AW39, OptionalInt.of(65535));
        VfioDmaMapping mapping = new VfioDmaMapping("0000:00:05.0", container);
        try (MemoryDomain d = MemoryDomain.create("blk", MIB2, HugePagePolicy.NEVER, VfioAttach.iovaWindow(container.iommuInfo()))) {
            mapping.attach(d);
            d.allocate(MIB2, 4096);
            d.allocate(MIB2, 4096); // grows: the new region is mapped by the listener
            assertEquals(2, d.regions().size());
            for (MemoryRegion r : d.regions()) {
                assertTrue(r.address() >= 1L << 32 && r.address() + r.length() <= 1L << 39, r + " above 4 GiB, below 2^39");
                assertTrue(container.calls.contains("map 0x" + Long.toHexString(r.address()) + " " + r.length()), container.calls.toString());
            }
            mapping.detach();
        }
    }
}
