package io.jvirtio.core.pci;

import io.jvirtio.core.DeviceException;
import io.jvirtio.core.QueueSetup;
import io.jvirtio.core.pci.FakeVirtioPciFunction.Access;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.VirtioStatus;
import io.jvirtio.spec.blk.VirtioBlkSpec;
import io.jvirtio.spec.scsi.VirtioScsiSpec;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.jvirtio.spec.VirtioFeatures.*;
import static io.jvirtio.spec.pci.VirtioPciSpec.*;
import static org.junit.jupiter.api.Assertions.*;

/** {@link VirtioPciTransport} against a register-file function modelled on QEMU 7.2's virtio-blk-pci. */
class VirtioPciTransportTest {
    private static final VirtioPciOptions FAST = new VirtioPciOptions(Duration.ofMillis(50), 5);
    private static final long ACCESS = bit(VIRTIO_F_ACCESS_PLATFORM);
    private static final long ORDER = bit(VIRTIO_F_ORDER_PLATFORM);
    private static final long VERSION_1 = bit(VIRTIO_F_VERSION_1);

    private final FakeVirtioPciFunction f = FakeVirtioPciFunction.fixture("0000:00:05.0");

    private VirtioPciTransport open() {
        return VirtioPciTransport.open(f, FAST);
    }

    private static QueueSetup queue(int index, int size) {
        long base = 0x7f0000000000L + index * 0x10000L;
        return new QueueSetup(index, size, base, base + 0x1000, base + 0x2000, 0);
    }

    @Test
    void openResetsAndLeavesTheDeviceReset() {
        VirtioPciTransport t = open();
        assertEquals(0, f.status);
        Access first = f.accesses.stream().filter(a -> a.write()).findFirst().orElseThrow();
        assertEquals(new Access(true, 4, VIRTIO_PCI_COMMON_STATUS, 1, 0), first, "the first write resets");
        assertEquals(0, t.getStatus());
        assertEquals(f, t.function());
        assertEquals(VIRTIO_ID_BLOCK, t.virtioDeviceId());
        assertEquals(1, t.getMaxQueues().getAsInt());
        assertEquals(0, f.closes);
    }

    @Test
    void json() {
        VirtioPciTransport t = open();
        assertEquals("pci-modern", t.transportType());
        assertEquals(List.of(Map.entry("type", "pci-modern"), Map.entry("pci_address", "0000:00:05.0")), List.copyOf(t.dumpJsonInfo().entrySet()));
        assertEquals(List.of(Map.entry("trtype", "pci"), Map.entry("traddr", "0000:00:05.0")), List.copyOf(t.writeJsonConfig().entrySet()));
    }

    @Test
    void resetWaitsForZero() {
        VirtioPciTransport t = open();
        t.setStatus(VirtioStatus.ACKNOWLEDGE);
        f.resetDelayReads = 20;
        int from = f.accesses.size();
        t.setStatus(VirtioStatus.RESET);
        long statusReads = f.accessesSince(from).stream().filter(a -> !a.write() && a.offset() == VIRTIO_PCI_COMMON_STATUS).count();
        assertEquals(21, statusReads, "20 reads of the old status, then 0");
    }

    @Test
    void resetTimesOutNamingTheStatus() {
        VirtioPciTransport t = open();
        t.setStatus(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER);
        f.resetDelayReads = -1;
        DeviceException e = assertThrows(DeviceException.class, () -> t.setStatus(VirtioStatus.RESET));
        assertTrue(e.getMessage().contains("0000:00:05.0"), e.getMessage());
        assertTrue(e.getMessage().contains("reset did not complete within 50 ms: device_status still reads 0x3 (ACKNOWLEDGE|DRIVER)"), e.getMessage());
    }

    @Test
    void openClosesTheFunctionWhenTheResetHangs() {
        f.status = VirtioStatus.ACKNOWLEDGE;
        f.resetDelayReads = -1;
        DeviceException e = assertThrows(DeviceException.class, this::open);
        assertTrue(e.getMessage().contains("reset did not complete"), e.getMessage());
        assertEquals(1, f.closes);
    }

    @Test
    void accessPlatformIsHiddenAndAdded() {
        VirtioPciTransport t = open();
        long offered = t.getFeatures();
        assertEquals(FakeVirtioPciFunction.QEMU_BLK_FEATURES & ~ACCESS, offered);
        assertFalse(VirtioFeatures.has(offered, VIRTIO_F_ACCESS_PLATFORM));
        t.setFeatures(VERSION_1 | 0x40);
        assertEquals(VERSION_1 | 0x40 | ACCESS, f.driverFeatures);
        assertEquals(2, f.countWrites(VIRTIO_PCI_COMMON_GF), "two 32-bit halves");
    }

    @Test
    void orderPlatformIsHiddenAndAddedToo() {
        f.offeredFeatures |= ORDER;
        VirtioPciTransport t = open();
        assertEquals(0, t.getFeatures() & (ORDER | ACCESS));
        t.setFeatures(VERSION_1);
        assertEquals(VERSION_1 | ACCESS | ORDER, f.driverFeatures);
    }

    @Test
    void unofferedFeatureIsRefused() {
        VirtioPciTransport t = open();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.setFeatures(VERSION_1 | bit(VIRTIO_F_RING_PACKED)));
        assertTrue(e.getMessage().contains("not offered"), e.getMessage());
    }

    @Test
    void deviceWithoutAccessPlatformIsRefusedAtOpen() {
        f.offeredFeatures &= ~ACCESS;
        DeviceException e = assertThrows(DeviceException.class, this::open);
        assertTrue(e.getMessage().contains("0000:00:05.0"), e.getMessage());
        assertTrue(e.getMessage().contains("does not offer VIRTIO_F_ACCESS_PLATFORM (bit 33): it would DMA around the IOMMU; QEMU: iommu_platform=on"),
                e.getMessage());
        assertEquals(1, f.closes);
        assertEquals(0, f.status, "left reset");
    }

    @Test
    void featuresAreReadAfterAcknowledgeAndDriver() {
        open();
        List<Access> writes = f.accesses.stream().filter(Access::write).toList();
        int ack = writes.indexOf(new Access(true, 4, VIRTIO_PCI_COMMON_STATUS, 1, VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER));
        int select = writes.indexOf(new Access(true, 4, VIRTIO_PCI_COMMON_DFSELECT, 4, 0));
        assertTrue(ack >= 0 && select > ack, writes.toString());
    }

    @Test
    void refusedFeaturesOkReadsBackWithoutTheBit() {
        VirtioPciTransport t = open();
        f.acceptFeatures = x -> false;
        t.setStatus(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER);
        t.setFeatures(VERSION_1);
        t.setStatus(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER | VirtioStatus.FEATURES_OK);
        assertEquals(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER, t.getStatus());
    }

    @Test
    void deviceNeedsResetIsReported() {
        VirtioPciTransport t = open();
        f.status = 0x4f;
        assertEquals(0x4f, t.getStatus());
        assertTrue(VirtioStatus.describe(t.getStatus()).contains("DEVICE_NEEDS_RESET"));
    }

    @Test
    void blkConfigIsReadWithEachFieldsWidth() {
        VirtioPciTransport t = open();
        for (int i = 0; i < VirtioBlkSpec.CFG_SIZE; i++) {
            f.deviceConfig[i] = (byte) (i + 1);
        }
        int from = f.accesses.size();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cfg = arena.allocate(VirtioBlkSpec.CFG_SIZE);
            t.readDevConfig(0, cfg);
            for (int i = 0; i < VirtioBlkSpec.CFG_SIZE; i++) {
                assertEquals((byte) (i + 1), cfg.get(ValueLayout.JAVA_BYTE, i), "byte " + i);
            }
        }
        List<int[]> expected = new ArrayList<>();
        int[][] fields = {{0, 4}, {4, 4}, {8, 4}, {12, 4}, {16, 2}, {18, 1}, {19, 1}, {20, 4}, {24, 1}, {25, 1}, {26, 2}, {28, 4}, {32, 1}, {33, 1},
                {34, 2}, {36, 4}, {40, 4}, {44, 4}, {48, 4}, {52, 4}, {56, 1}, {57, 1}, {58, 1}, {59, 1}};
        for (int[] fw : fields) {
            expected.add(fw);
        }
        assertEquals(render(expected), render(f.deviceConfigAccesses(from).stream().map(a -> new int[] {(int) a.offset(), a.width()}).toList()));
    }

    @Test
    void scsiConfigIsReadWithEachFieldsWidth() {
        FakeVirtioPciFunction scsi = FakeVirtioPciFunction.fixture("0000:00:10.0");
        scsi.numQueues = 4;
        VirtioPciTransport t = VirtioPciTransport.open(scsi, FAST);
        int from = scsi.accesses.size();
        try (Arena arena = Arena.ofConfined()) {
            t.readDevConfig(0, arena.allocate(VirtioScsiSpec.CFG_SIZE));
        }
        List<int[]> expected = List.of(new int[] {0, 4}, new int[] {4, 4}, new int[] {8, 4}, new int[] {12, 4}, new int[] {16, 4},
                new int[] {20, 4}, new int[] {24, 4}, new int[] {28, 2}, new int[] {30, 2}, new int[] {32, 4});
        assertEquals(render(expected), render(scsi.deviceConfigAccesses(from).stream().map(a -> new int[] {(int) a.offset(), a.width()}).toList()));
    }

    @Test
    void oddRangesUseAlignedAccesses() {
        VirtioPciTransport t = open();
        int from = f.accesses.size();
        try (Arena arena = Arena.ofConfined()) {
            t.readDevConfig(1, arena.allocate(7)); // inside capacity: 1 (byte), 2 (16), 4 (32)
            t.readDevConfig(60, arena.allocate(5)); // past the blk struct: 60 (32), 64 (8)
        }
        assertEquals("1/1 2/2 4/4 60/4 64/1", render(f.deviceConfigAccesses(from).stream().map(a -> new int[] {(int) a.offset(), a.width()}).toList()));
    }

    @Test
    void configWriteUsesWidthsToo() {
        VirtioPciTransport t = open();
        int from = f.accesses.size();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment wce = arena.allocate(1);
            wce.set(ValueLayout.JAVA_BYTE, 0, (byte) 1);
            t.writeDevConfig(VirtioBlkSpec.CFG_WRITEBACK, wce);
        }
        assertEquals(List.of(new Access(true, 4, FakeVirtioPciFunction.DEVICE + VirtioBlkSpec.CFG_WRITEBACK, 1, 1)), f.accessesSince(from));
        assertEquals(1, f.deviceConfig[VirtioBlkSpec.CFG_WRITEBACK]);
    }

    @Test
    void configOutsideTheStructureIsRefused() {
        VirtioPciTransport t = open();
        try (Arena arena = Arena.ofConfined()) {
            DeviceException e = assertThrows(DeviceException.class, () -> t.readDevConfig(0xff0, arena.allocate(0x20)));
            assertTrue(e.getMessage().contains("exceeds the device config structure (length 4096)"), e.getMessage());
        }
    }

    @Test
    void generationChangeMakesTheReadRepeat() {
        VirtioPciTransport t = open();
        f.bumpGenerationOnReads = 1; // the first field read of the first pass changes the generation
        int from = f.accesses.size();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cfg = arena.allocate(8);
            f.deviceConfig[0] = 42;
            t.readDevConfig(0, cfg);
            assertEquals(42, cfg.get(ValueLayout.JAVA_BYTE, 0));
        }
        long generationReads = f.accessesSince(from).stream().filter(a -> a.offset() == VIRTIO_PCI_COMMON_CFGGENERATION).count();
        assertEquals(4, generationReads, "two passes, each between two generation reads");
        assertEquals(4, f.deviceConfigAccesses(from).size(), "capacity as two 32-bit reads, twice");
    }

    @Test
    void generationThatNeverSettlesFailsAfterTheBound() {
        VirtioPciTransport t = open();
        f.bumpGenerationOnReads = -1;
        int from = f.accesses.size();
        try (Arena arena = Arena.ofConfined()) {
            DeviceException e = assertThrows(DeviceException.class, () -> t.readDevConfig(0, arena.allocate(4)));
            assertTrue(e.getMessage().contains("device config kept changing"), e.getMessage());
            assertTrue(e.getMessage().contains("pass 5 of 5"), e.getMessage());
        }
        assertEquals(5, f.deviceConfigAccesses(from).size());
    }

    @Test
    void queueSizeIsTheMaximumReadBeforeAnyWrite() {
        VirtioPciTransport t = open();
        assertEquals(256, t.getQueueSize(0));
        t.setupQueue(queue(0, 128));
        assertEquals(128, f.queueSize[0]);
        assertEquals(256, t.getQueueSize(0), "cached: the register now reads 128");
        assertEquals(1, f.countReads(VIRTIO_PCI_COMMON_Q_SIZE));
    }

    @Test
    void setupQueueWritesEveryRegisterThenEnables() {
        VirtioPciTransport t = open();
        t.setStatus(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER | VirtioStatus.FEATURES_OK);
        int from = f.accesses.size();
        QueueSetup q = new QueueSetup(0, 128, 0x1_2345_6000L, 0x1_2345_7000L, 0xabcd_0000_1000L, 0);
        t.setupQueue(q);
        assertEquals(0x1_2345_6000L, f.queueDesc[0]);
        assertEquals(0x1_2345_7000L, f.queueAvail[0]);
        assertEquals(0xabcd_0000_1000L, f.queueUsed[0]);
        assertEquals(VIRTIO_MSI_NO_VECTOR, f.queueMsix[0]);
        assertEquals(1, f.queueEnable[0]);
        List<Access> writes = f.accessesSince(from).stream().filter(Access::write).toList();
        assertEquals(List.of(
                new Access(true, 4, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0), // getQueueSize: the maximum, before any write
                new Access(true, 4, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0),
                new Access(true, 4, VIRTIO_PCI_COMMON_Q_SIZE, 2, 128),
                new Access(true, 4, VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x23456000L),
                new Access(true, 4, VIRTIO_PCI_COMMON_Q_DESCHI, 4, 1),
                new Access(true, 4, VIRTIO_PCI_COMMON_Q_AVAILLO, 4, 0x23457000L),
                new Access(true, 4, VIRTIO_PCI_COMMON_Q_AVAILHI, 4, 1),
                new Access(true, 4, VIRTIO_PCI_COMMON_Q_USEDLO, 4, 0x1000L),
                new Access(true, 4, VIRTIO_PCI_COMMON_Q_USEDHI, 4, 0xabcdL),
                new Access(true, 4, VIRTIO_PCI_COMMON_Q_MSIX, 2, VIRTIO_MSI_NO_VECTOR),
                new Access(true, 4, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1)), writes);
    }

    @Test
    void notifyAddressIsOffsetTimesMultiplier() {
        f.numQueues = 3;
        f.notifyOff = new int[] {0, 5, 2, 0, 0, 0, 0, 0};
        VirtioPciTransport t = open();
        for (int i = 0; i < 3; i++) {
            t.setupQueue(queue(i, 64));
        }
        t.notifyQueue(1);
        t.notifyQueue(2);
        t.notifyQueue(0);
        assertEquals(3, f.notifies.size());
        assertArrayEquals(new long[] {FakeVirtioPciFunction.NOTIFY + 5 * 4, 1}, f.notifies.get(0));
        assertArrayEquals(new long[] {FakeVirtioPciFunction.NOTIFY + 2 * 4, 2}, f.notifies.get(1));
        assertArrayEquals(new long[] {FakeVirtioPciFunction.NOTIFY, 0}, f.notifies.get(2));
    }

    @Test
    void notifyOffsetOutsideTheCapIsRefused() {
        f.notifyOff = new int[] {0x400, 0, 0, 0, 0, 0, 0, 0}; // 0x400 * 4 = 0x1000 = the cap length: no room for 2 bytes
        VirtioPciTransport t = open();
        DeviceException e = assertThrows(DeviceException.class, () -> t.setupQueue(queue(0, 64)));
        assertTrue(e.getMessage().contains("lies outside the notify structure"), e.getMessage());
        assertEquals(0, f.queueEnable[0], "not enabled");
    }

    @Test
    void notifyAllocatesNothing() {
        VirtioPciTransport t = open();
        t.setupQueue(queue(0, 64));
        f.notifies.clear();
        f.accesses.clear();
        // the fake records (allocates); measure the transport's own path with a counting bar instead
        var bean = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        NoAllocBar bar = new NoAllocBar();
        VirtioPciCapabilities caps = t.capabilities();
        VirtioPciCapabilities.Structure n = caps.notification();
        VirtioPciNotifier notifier = new VirtioPciNotifier(new VirtioPciCapabilities(f, caps.deviceId(), caps.virtioId(), caps.common(),
                new VirtioPciCapabilities.Structure(n.cfgType(), n.capOffset(), bar, n.offset(), n.length()), caps.notifyOffMultiplier(),
                caps.isr(), caps.device()), 1, "test");
        notifier.setUp(0, 0);
        for (int i = 0; i < 100_000; i++) {
            notifier.notify(0); // warm up
        }
        long before = bean.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < 100_000; i++) {
            notifier.notify(0);
        }
        long allocated = bean.getCurrentThreadAllocatedBytes() - before;
        // one object per notify would be >= 1.6 MB; the few hundred bytes a run may show are the JIT's (OSR, deopt)
        assertTrue(allocated < 16 * 1024, allocated + " bytes allocated by 100000 notifies");
        assertEquals(200_000, bar.writes);
    }

    /** A BAR that only counts 16-bit stores. */
    private static final class NoAllocBar implements PciBar {
        int writes;
        @Override public int index() { return 4; }
        @Override public long size() { return FakeVirtioPciFunction.BAR4_SIZE; }
        @Override public int read8(long offset) { return 0; }
        @Override public int read16(long offset) { return 0; }
        @Override public int read32(long offset) { return 0; }
        @Override public void write8(long offset, int value) { }
        @Override public void write16(long offset, int value) { writes++; }
        @Override public void write32(long offset, int value) { }
    }

    @Test
    void deleteQueueNeverWritesQueueEnable() {
        VirtioPciTransport t = open();
        t.setupQueue(queue(0, 64));
        int from = f.accesses.size();
        assertEquals(-1, t.deleteQueue(0));
        assertEquals(List.of(), f.accessesSince(from), "deleteQueue touches no register");
        assertThrows(IllegalStateException.class, () -> t.notifyQueue(0));
        t.setStatus(VirtioStatus.RESET);
        t.destruct();
        assertEquals(0, f.queueEnableZeroWrites);
        assertEquals(1, f.countWrites(VIRTIO_PCI_COMMON_Q_ENABLE));
    }

    @Test
    void availIndexOtherThanZeroIsRefused() {
        VirtioPciTransport t = open();
        DeviceException e = assertThrows(DeviceException.class, () -> t.setupQueue(new QueueSetup(0, 64, 0x1000, 0x2000, 0x3000, 7)));
        assertTrue(e.getMessage().contains("cannot start at avail index 7"), e.getMessage());
        assertEquals(0, f.countWrites(VIRTIO_PCI_COMMON_Q_SELECT));
    }

    @Test
    void badQueueSizesAndIndexesAreRefused() {
        VirtioPciTransport t = open();
        assertThrows(DeviceException.class, () -> t.setupQueue(queue(0, 512)));
        assertThrows(DeviceException.class, () -> t.setupQueue(queue(0, 96)));
        assertThrows(DeviceException.class, () -> t.setupQueue(queue(1, 64)));
        assertThrows(DeviceException.class, () -> t.getQueueSize(1));
    }

    @Test
    void setupAfterDriverOkIsRefused() {
        VirtioPciTransport t = open();
        t.setStatus(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER | VirtioStatus.FEATURES_OK | VirtioStatus.DRIVER_OK);
        assertThrows(DeviceException.class, () -> t.setupQueue(queue(0, 64)));
    }

    @Test
    void resetForgetsQueues() {
        VirtioPciTransport t = open();
        t.setupQueue(queue(0, 64));
        t.setStatus(VirtioStatus.RESET);
        assertThrows(IllegalStateException.class, () -> t.notifyQueue(0));
        assertEquals(0, f.queueEnable[0]);
    }

    @Test
    void destructResetsAndClosesOnce() {
        VirtioPciTransport t = open();
        t.setStatus(VirtioStatus.ACKNOWLEDGE);
        t.setupQueue(queue(0, 64));
        t.destruct();
        assertEquals(0, f.status);
        assertEquals(1, f.closes);
        assertEquals(new Access(true, 4, VIRTIO_PCI_COMMON_STATUS, 1, 0), f.accesses.stream().filter(Access::write).toList().getLast());
        t.destruct();
        assertEquals(1, f.closes);
        assertThrows(IllegalStateException.class, () -> t.notifyQueue(0));
        assertThrows(IllegalStateException.class, t::getStatus);
    }

    @Test
    void destructClosesEvenWhenTheResetHangs() {
        VirtioPciTransport t = open();
        t.setStatus(VirtioStatus.ACKNOWLEDGE);
        f.resetDelayReads = -1;
        t.destruct();
        assertEquals(1, f.closes);
    }

    @Test
    void transitionalFunctionIsDriven() {
        FakeVirtioPciFunction tr = FakeVirtioPciFunction.fixture("0000:00:12.0");
        VirtioPciTransport t = VirtioPciTransport.open(tr, FAST);
        assertEquals(VIRTIO_ID_BLOCK, t.virtioDeviceId());
        t.destruct();
    }

    @Test
    void legacyFunctionIsRefusedAndClosed() {
        FakeVirtioPciFunction legacy = FakeVirtioPciFunction.fixture("0000:00:13.0");
        assertThrows(DeviceException.class, () -> VirtioPciTransport.open(legacy, FAST));
        assertEquals(1, legacy.closes);
    }

    @Test
    void wrongDeviceTypeIsRefusedWhenATypeIsAsked() {
        FakeVirtioPciFunction scsi = FakeVirtioPciFunction.fixture("0000:00:10.0");
        DeviceException e = assertThrows(DeviceException.class, () -> VirtioPciTransport.open(scsi, FAST.withVirtioId(VIRTIO_ID_BLOCK)));
        assertEquals("PCI function 0000:00:10.0 is a virtio-scsi device (virtio id 8, PCI device 0x1048), not virtio-blk;"
                + " attach it as scsi (dev_type \"scsi\", VirtioScsiController.attachPci)",
                e.getMessage());
        assertEquals(1, scsi.closes);
        VirtioPciTransport t = VirtioPciTransport.open(f, FAST.withVirtioId(VIRTIO_ID_BLOCK));
        assertEquals(VIRTIO_ID_BLOCK, t.virtioDeviceId());
    }

    @Test
    void optionsAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> new VirtioPciOptions(Duration.ZERO, 1));
        assertThrows(IllegalArgumentException.class, () -> new VirtioPciOptions(Duration.ofSeconds(1), 0));
        assertThrows(IllegalArgumentException.class, () -> VirtioPciOptions.defaults().withVirtioId(0x40));
        assertEquals(VirtioPciOptions.ANY_DEVICE, VirtioPciOptions.defaults().virtioId());
    }

    private static String render(List<int[]> accesses) {
        StringBuilder sb = new StringBuilder();
        for (int[] a : accesses) {
            sb.append(sb.isEmpty() ? "" : " ").append(a[0]).append('/').append(a[1]);
        }
        return sb.toString();
    }
}
