package io.jvirtio.tools.vfio;

import io.jvirtio.bdev.SyncIo;
import io.jvirtio.blk.VirtioBlkChannel;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.mem.MemoryRegion;
import io.jvirtio.core.pci.PciAddress;
import io.jvirtio.core.pci.VirtioPciOptions;
import io.jvirtio.core.vfio.VfioException;
import io.jvirtio.core.vfio.VfioOptions;
import io.jvirtio.core.vfio.VfioPciFunction;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static io.jvirtio.tools.vfio.GuestCheckException.check;

/**
 * The guest half of {@link VfioNarrowIommuGuestTest}: a virtio-blk-pci behind QEMU's default
 * {@code intel-iommu} (39-bit address width, IOVA ranges ending at {@code 0x7fffffffff}). Proves
 * that a domain at the kernel's address is refused there, that {@code VirtioBlkDevice.attachPci}
 * places the device's memory below 2^39, also when the domain grows, and that data written from
 * buffers of the first and of the grown region reaches the disk ({@link #plan()}; the host checks
 * the image byte for byte). Exits 0 when every scenario passed, 1 otherwise.
 *
 * <p>Arguments: {@code blk=BDF}.
 */
public final class VfioNarrowIommuScenarios {
    static final String START_MARKER = "guest-jvm: main() at uptime ";
    static final String DONE_MARKER = "guest-jvm: done at uptime ";
    /** Printed for every region of the device's domain: {@code region: ADDRESS LENGTH NAME}. */
    static final String REGION_LINE = "narrow: region ";

    static final String UNPLACED_REFUSED = "narrow.unplaced-domain-refused";
    static final String ATTACH = "narrow.attach-below-2^39";
    static final String FIRST_REGION_IO = "narrow.first-region-io";
    static final String GROWN_REGION_IO = "narrow.grown-region-io";
    static final String CLOSE = "narrow.close";
    static final List<String> SCENARIOS = List.of(UNPLACED_REFUSED, ATTACH, FIRST_REGION_IO, GROWN_REGION_IO, CLOSE);

    static final long MIB = 1L << 20;
    static final long IMAGE_BYTES = 16 * MIB;
    /** The domain's first region, and each growth step: small, so the domain grows soon. */
    static final long DEVICE_MEMORY = 4 * MIB;
    /** The 39-bit IOMMU's limit: every region must end at or below it. */
    static final long IOVA_LIMIT = 1L << 39;
    /** Size of one I/O: well under any segment limit QEMU's virtio-blk has. */
    static final int IO_BYTES = 64 * 1024;
    /** Buffers held to make the domain grow. */
    private static final long FILLER_BYTES = MIB;
    private static final long SCENARIO_TIMEOUT_SECONDS = 60;

    private final ScenarioRunner runner;
    private final PciAddress address;
    private VirtioBlkDevice blk;
    private VirtioBlkChannel channel;
    private final List<MemorySegment> held = new ArrayList<>();

    private VfioNarrowIommuScenarios(ScenarioRunner runner, PciAddress address) {
        this.runner = runner;
        this.address = address;
    }

    /** @return what the scenarios write, for the host's image check */
    static ImagePlan plan() {
        return new ImagePlan.Builder()
                .write(FIRST_REGION_IO, 0, IO_BYTES, 71)
                .write(FIRST_REGION_IO, 5 * MIB + 512, IO_BYTES, 72)
                .write(GROWN_REGION_IO, 8 * MIB, IO_BYTES, 81)
                .writev(GROWN_REGION_IO, 12 * MIB + 4096, List.of(IO_BYTES / 2, IO_BYTES / 2), 82) // one iovec per region
                .write(GROWN_REGION_IO, IMAGE_BYTES - IO_BYTES, IO_BYTES, 83)
                .build("narrow", IMAGE_BYTES, 512);
    }

    /** @param args {@code blk=BDF} */
    public static void main(String[] args) {
        System.out.println(START_MARKER + VfioGuestScenarios.uptime());
        if (args.length != 1 || !args[0].startsWith("blk=")) {
            throw new IllegalArgumentException("usage: blk=BDF");
        }
        ScenarioRunner runner = new ScenarioRunner(System.out, SCENARIO_TIMEOUT_SECONDS);
        VfioNarrowIommuScenarios s = new VfioNarrowIommuScenarios(runner, PciAddress.parse(args[0].substring(4)));
        runner.run(UNPLACED_REFUSED, s::unplacedDomainIsRefused);
        runner.run(ATTACH, s::attach);
        runner.run(FIRST_REGION_IO, s::firstRegionIo);
        runner.run(GROWN_REGION_IO, s::grownRegionIo);
        runner.run(CLOSE, s::close);
        System.out.println(DONE_MARKER + VfioGuestScenarios.uptime() + ", " + runner.failures().size() + " scenario(s) failed");
        System.out.flush();
        System.exit(runner.failures().isEmpty() ? 0 : 1);
    }

    /**
     * The IOMMU really is narrow: a domain without a window (the kernel's address, near 2^47) is
     * refused by the last line of defence, naming the ranges.
     */
    private void unplacedDomainIsRefused() {
        try (VfioPciFunction f = VfioPciFunction.open(address, VfioOptions.defaults());
             MemoryDomain unplaced = MemoryDomain.create("unplaced", 2 * MIB, HugePagePolicy.NEVER)) {
            runner.out().println("narrow: IOVA ranges " + f.iommuInfo().ranges() + ", an unplaced region at 0x"
                    + Long.toHexString(unplaced.regions().getFirst().address()));
            try {
                f.mapDma(unplaced);
            } catch (VfioException e) {
                runner.out().println("error message: " + ScenarioRunner.oneLine(e));
                check(e.getMessage().contains("outside the IOMMU's IOVA ranges") && e.getMessage().contains("0x7fffffffff"),
                        "unexpected refusal: " + e.getMessage());
                return;
            }
            throw new GuestCheckException("a region at 0x" + Long.toHexString(unplaced.regions().getFirst().address())
                    + " was mapped: is this IOMMU wider than 39 bits? ranges " + f.iommuInfo().ranges());
        }
    }

    private void attach() {
        VirtioBlkOptions options = VirtioBlkOptions.defaults().withRequestQueues(1).withMemoryBytes(DEVICE_MEMORY);
        blk = VirtioBlkDevice.attachPci("Narrow0", address, options, VfioOptions.defaults(), VirtioPciOptions.defaults());
        check(blk.blockCount() * 512 == IMAGE_BYTES, "capacity " + blk.blockCount() + " blocks");
        channel = blk.openChannel();
        checkRegions(1);
    }

    private void firstRegionIo() {
        runner.requireAttached(channel, ATTACH);
        MemoryRegion first = regions().getFirst();
        SyncIo io = new SyncIo(channel);
        for (ImagePlan.Op op : plan().of(FIRST_REGION_IO)) {
            ImagePlan.Write w = (ImagePlan.Write) op;
            MemorySegment buf = hold(w.length());
            check(first.contains(buf.address(), buf.byteSize()), "buffer not in the first region");
            writeAndReadBack(io, w, new MemorySegment[]{buf}, hold(w.length()));
        }
    }

    /** Holds 1 MiB buffers until the domain has a second region, then does the I/O from there. */
    private void grownRegionIo() {
        runner.requireAttached(channel, ATTACH);
        MemoryDomain memory = blk.device().memory();
        while (memory.regions().size() < 2) {
            held.add(blk.allocateBuffer(FILLER_BYTES, 4096));
        }
        checkRegions(2);
        MemoryRegion first = regions().getFirst();
        MemoryRegion grown = regions().get(1);
        SyncIo io = new SyncIo(channel);
        for (ImagePlan.Op op : plan().of(GROWN_REGION_IO)) {
            ImagePlan.Write w = (ImagePlan.Write) op;
            MemorySegment[] iovs;
            if (w.iovLengths().size() == 2) {
                // one iovec in each region: a request whose descriptors span both mappings
                iovs = new MemorySegment[]{firstRegionBuffer(first, w.iovLengths().get(0)), holdIn(grown, w.iovLengths().get(1))};
            } else {
                iovs = new MemorySegment[]{holdIn(grown, w.length())};
            }
            writeAndReadBack(io, w, iovs, holdIn(grown, w.length()));
        }
    }

    /** A buffer from the first region (freed filler space, or what is left there). */
    private MemorySegment firstRegionBuffer(MemoryRegion first, int length) {
        for (MemorySegment s : held) {
            if (first.contains(s.address(), s.byteSize()) && s.byteSize() >= length) {
                return s.asSlice(0, length);
            }
        }
        throw new GuestCheckException("no held buffer in the first region");
    }

    /**
     * A buffer inside {@code region}: allocation is first-fit, so what still fits in an earlier
     * region lands there first; such buffers are held too (they fill the earlier region up).
     */
    private MemorySegment holdIn(MemoryRegion region, long length) {
        for (int i = 0; i < 4096; i++) {
            MemorySegment s = hold(length);
            if (region.contains(s.address(), s.byteSize())) {
                return s;
            }
        }
        throw new GuestCheckException("no buffer of " + length + " bytes landed in " + region);
    }

    private MemorySegment hold(long length) {
        MemorySegment s = blk.allocateBuffer(length, 4096);
        held.add(s);
        return s;
    }

    private static void writeAndReadBack(SyncIo io, ImagePlan.Write w, MemorySegment[] iovs, MemorySegment readBack) {
        byte[] data = w.bytes();
        int pos = 0;
        for (MemorySegment s : iovs) {
            MemorySegment.copy(data, pos, s, ValueLayout.JAVA_BYTE, 0, (int) s.byteSize());
            pos += (int) s.byteSize();
        }
        if (iovs.length == 1) {
            io.write(iovs[0], w.offset());
        } else {
            io.writev(iovs, iovs.length, w.offset());
        }
        readBack.fill((byte) 0);
        io.read(readBack, w.offset());
        int at = Arrays.mismatch(data, readBack.toArray(ValueLayout.JAVA_BYTE));
        check(at < 0, PlanExecutor.describe(w) + " read back wrong at byte " + at);
    }

    private List<MemoryRegion> regions() {
        return blk.device().memory().regions();
    }

    /** Prints every region and checks it lies above 4 GiB and ends at or below 2^39. */
    private void checkRegions(int atLeast) {
        List<MemoryRegion> regions = regions();
        for (MemoryRegion r : regions) {
            runner.out().println(REGION_LINE + "0x" + Long.toHexString(r.address()) + " " + r.length() + " " + r);
            check(r.address() >= 1L << 32 && r.address() + r.length() <= IOVA_LIMIT,
                    r + " is not inside [4 GiB, 2^39): the 39-bit IOMMU cannot reach it");
        }
        check(regions.size() >= atLeast, regions.size() + " region(s), expected at least " + atLeast);
    }

    private void close() {
        runner.requireAttached(blk, ATTACH);
        for (MemorySegment s : held) {
            blk.freeBuffer(s);
        }
        held.clear();
        channel.close();
        blk.close();
        blk = null;
    }
}
