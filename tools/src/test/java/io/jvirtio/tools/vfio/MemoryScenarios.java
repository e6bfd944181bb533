package io.jvirtio.tools.vfio;

import io.jvirtio.blk.VirtioBlkChannel;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.mem.MemoryRegion;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.OptionalLong;

import static io.jvirtio.tools.vfio.GuestCheckException.check;
import static io.jvirtio.tools.vfio.VfioGuestPlan.*;

/**
 * The blk scenarios about the device's memory and BARs, on the blk function after
 * {@link DataScenarios} closed it: the memory domain grows while the device is attached and I/O
 * runs with buffers in the new region ({@link #BLK_MEMORY_GROWTH}); closing releases every region
 * (unpinned, unmapped, the BARs unmapped) and the function attaches again and works
 * ({@link #BLK_MEMORY_RELEASED}); the data checks with the BARs reached through pread/pwrite only
 * ({@link #BLK_BAR_FILE}). The checks of kernel state ({@link ProcessView}) run where the transport
 * has such state (VFIO); the data checks everywhere.
 */
final class MemoryScenarios {
    static final String GROWN = "VfioGrow";

    private final ScenarioRunner runner;
    private final DataScenarios.Devices devices;
    private final ProcessView process;
    private VirtioBlkDevice grown;
    /** what the process had pinned before {@link #GROWN} was attached */
    private OptionalLong pinnedBefore = OptionalLong.empty();

    MemoryScenarios(ScenarioRunner runner, DataScenarios.Devices devices) {
        this.runner = runner;
        this.devices = devices;
        this.process = devices.process();
    }

    /** Runs the three scenarios in {@link VfioGuestPlan#SCENARIOS} order; closes what they left attached. */
    void runAll() {
        runner.run(BLK_MEMORY_GROWTH, this::growth);
        runner.run(BLK_MEMORY_RELEASED, this::released);
        runner.run(BLK_BAR_FILE, this::barFile);
        if (grown != null) {
            grown.close();
            grown = null;
        }
    }

    /**
     * Attaches with a {@link VfioGuestPlan#GROWTH_REGION} domain, fills its first region until a
     * second one is added (and DMA-mapped: the pinned bytes grow by its length), then runs the
     * plan's I/O with every buffer inside the new region while the channel's rings and request
     * headers stay in the first.
     */
    private void growth() {
        pinnedBefore = process.pinnedBytes();
        VirtioBlkDevice dev = devices.blk(GROWN, 1, GROWTH_REGION, false);
        try {
            grow(dev);
            grown = dev; // for the next scenario
        } finally {
            if (grown == null) {
                dev.close();
            }
        }
    }

    private void grow(VirtioBlkDevice dev) {
        MemoryDomain memory = dev.device().memory();
        List<MemorySegment> fillers = new ArrayList<>();
        try (VirtioBlkChannel ch = dev.openChannel()) {
            List<MemoryRegion> first = memory.regions();
            check(first.size() == 1 && first.getFirst().length() == GROWTH_REGION, GROWN + ": after the attach the domain has "
                    + first + ", expected one region of " + GROWTH_REGION + " bytes");
            expectPinned(bytes(first), "after the attach");
            expectDeviceMappings(true, "while " + GROWN + " is attached with mapped BARs");
            MemoryRegion added = fillUntilGrown(dev, first, fillers);
            check(memory.regions().size() == 2, GROWN + ": regions " + memory.regions() + ", expected the first and " + added);
            expectPinned(bytes(first) + added.length(), "after the domain grew");
            for (MemoryRegion r : memory.regions()) {
                expectMemfdMappings(r, 1);
            }
            RegionBuffers inAdded = new RegionBuffers(dev, added, fillers);
            new PlanExecutor(dev, ch, inAdded).run(VfioGuestPlan.blk().of(BLK_MEMORY_GROWTH));
            check(inAdded.allocated() > 0, "no I/O buffer was allocated");
            OptionalLong pinned = process.pinnedBytes();
            runner.out().println("memory: " + GROWN + ": " + first.getFirst() + ", then " + added + " after " + fillers.size()
                    + " filler(s); " + inAdded.allocated() + " I/O buffers in the new region; pinned for DMA: "
                    + (pinned.isPresent() ? pinned.getAsLong() - pinnedBefore.getAsLong() + " bytes" : "(n/a)"));
        } finally {
            fillers.forEach(dev::freeBuffer);
        }
    }

    /**
     * Allocates 64 KiB fillers through the bdev's public {@code allocateBuffer} (kept until the
     * caller frees them) until one lands outside {@code first}: the domain added a region.
     *
     * @return the added region
     */
    private static MemoryRegion fillUntilGrown(VirtioBlkDevice dev, List<MemoryRegion> first, List<MemorySegment> fillers) {
        MemoryDomain memory = dev.device().memory();
        long limit = bytes(first) / (64 * KIB) + 2;
        for (int i = 0; i < limit; i++) {
            MemorySegment s = dev.allocateBuffer(64 * KIB, 4096);
            fillers.add(s);
            if (first.stream().noneMatch(r -> r.contains(s.address(), s.byteSize()))) {
                return memory.regions().stream().filter(r -> r.contains(s.address(), s.byteSize())).findFirst()
                        .orElseThrow(() -> new GuestCheckException("filler at 0x" + Long.toHexString(s.address()) + " lies in no region of "
                                + memory.regions()));
            }
        }
        throw new GuestCheckException(fillers.size() + " fillers of 64 KiB still fit in " + first + ": the domain never grew");
    }

    /**
     * Closes {@link #GROWN}: nothing of its memory stays pinned or mapped, its BARs are unmapped;
     * then the function attaches again, reads back what the growth scenario wrote and writes more.
     */
    private void released() {
        runner.requireAttached(grown, BLK_MEMORY_GROWTH);
        MemoryDomain memory = grown.device().memory();
        List<MemoryRegion> regions = memory.regions();
        grown.close();
        grown = null;
        check(memory.regions().isEmpty(), GROWN + ": the domain still has " + memory.regions() + " after close");
        expectPinned(0, "after " + GROWN + " was closed (VFIO_IOMMU_UNMAP_DMA of every region)");
        for (MemoryRegion r : regions) {
            expectMemfdMappings(r, 0);
        }
        expectDeviceMappings(false, "after " + GROWN + " was closed");
        try (VirtioBlkDevice again = devices.blk(GROWN + "Again", 1, GROWTH_REGION, false); VirtioBlkChannel ch = again.openChannel()) {
            expectPinned(bytes(again.device().memory().regions()), "after the attach again");
            PlanExecutor ex = new PlanExecutor(again, ch);
            ImagePlan plan = VfioGuestPlan.blk();
            for (ImagePlan.Op op : plan.of(BLK_MEMORY_GROWTH)) {
                ex.verifyFinal(plan, op);
            }
            ex.run(plan.of(BLK_MEMORY_RELEASED));
        }
        expectPinned(0, "after the second attach was closed");
    }

    /** The data checks with every BAR access (common config, notify, device config) through pread/pwrite. */
    private void barFile() {
        try (VirtioBlkDevice dev = devices.blk("VfioBarFile", 1, DEVICE_MEMORY, true); VirtioBlkChannel ch = dev.openChannel()) {
            expectDeviceMappings(false, "with BarAccess.FILE_ONLY");
            PlanExecutor ex = new PlanExecutor(dev, ch);
            ex.run(VfioGuestPlan.blk().of(BLK_BAR_FILE));
            ex.io().flush();
            expectDeviceMappings(false, "after I/O with BarAccess.FILE_ONLY");
        }
    }

    // ---------------------------------------------------------------- kernel state

    private static long bytes(List<MemoryRegion> regions) {
        return regions.stream().mapToLong(MemoryRegion::length).sum();
    }

    /** The process pins {@code bytes} more than before {@link #growth} (where the transport pins). */
    private void expectPinned(long bytes, String when) {
        OptionalLong now = process.pinnedBytes();
        if (now.isPresent() && pinnedBefore.isPresent()) {
            long delta = now.getAsLong() - pinnedBefore.getAsLong();
            check(delta == bytes, "pinned for DMA " + when + ": " + delta + " bytes more than before the first attach, expected " + bytes
                    + " (VmLck " + now.getAsLong() / 1024 + " kB, before " + pinnedBefore.getAsLong() / 1024 + " kB)");
        }
    }

    /** The process has BAR mappings when {@code expected}, none otherwise (where the transport has BARs). */
    private void expectDeviceMappings(boolean expected, String when) {
        OptionalInt n = process.deviceMappings();
        if (n.isPresent()) {
            check(expected == (n.getAsInt() > 0), n.getAsInt() + " mapping(s) of " + ProcSelf.VFIO_DEVICE + " " + when + ", expected "
                    + (expected ? "some (the BARs are mmapped)" : "none"));
        }
    }

    private void expectMemfdMappings(MemoryRegion r, int expected) {
        OptionalInt n = process.memfdMappings(r.name());
        if (n.isPresent()) {
            check(n.getAsInt() == expected, "/memfd:" + r.name() + " is mapped " + n.getAsInt() + " time(s), expected " + expected);
        }
    }
}
