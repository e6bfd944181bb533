package io.jvirtio.core.vfio;

import io.jvirtio.core.pci.PciAddress;
import io.jvirtio.sys.LinuxConstants;
import io.jvirtio.sys.Native;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The two BAR kinds without a device: a plain file stands in for the VFIO device fd (pread/pwrite
 * at the region offset), native memory for an mmapped area. Widths, little-endian, bounds,
 * sparse-area fallback, closed state, and no allocation on the notify.
 */
class PciBarAccessTest {
    private static final PciAddress BDF = PciAddress.parse("0000:00:05.0");
    private static final long REGION = 0x1000; // where the "region" starts in the file
    private static final long SIZE = 0x4000;

    @TempDir
    Path dir;
    Path file;
    DeviceFd device;

    @BeforeEach
    void open() throws Exception {
        file = Files.write(dir.resolve("device"), new byte[(int) (REGION + SIZE)]);
        device = new DeviceFd(BDF, Native.open(file.toString(), LinuxConstants.O_RDWR | LinuxConstants.O_CLOEXEC));
    }

    @AfterEach
    void close() {
        device.close();
    }

    private ByteBuffer fileBytes(long offset, int n) throws Exception {
        byte[] all = Files.readAllBytes(file);
        return ByteBuffer.wrap(all, (int) (REGION + offset), n).slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void fileBarWritesExactWidthsLittleEndianAtTheRegionOffset() throws Exception {
        FilePciBar bar = new FilePciBar(4, SIZE, REGION, device);
        bar.write8(0x14, 0xab);
        bar.write16(0x16, 0x1234);
        bar.write32(0x20, 0xdeadbeef);
        ByteBuffer b = fileBytes(0x14, 16);
        assertEquals((byte) 0xab, b.get(0));
        assertEquals(0, b.get(1), "an 8-bit write touches one byte");
        assertEquals((short) 0x1234, b.getShort(2));
        assertEquals(0xdeadbeef, b.getInt(0xc));
        assertEquals(0xab, bar.read8(0x14));
        assertEquals(0x1234, bar.read16(0x16));
        assertEquals(0xdeadbeef, bar.read32(0x20));
    }

    @Test
    void outOfBoundsAndUnalignedAreRefused() {
        FilePciBar bar = new FilePciBar(4, SIZE, REGION, device);
        assertThrows(IndexOutOfBoundsException.class, () -> bar.read32(SIZE - 2));
        assertThrows(IndexOutOfBoundsException.class, () -> bar.write16(-2, 0));
        IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class, () -> bar.write16(0x11, 0));
        assertTrue(e.getMessage().contains("BAR4") && e.getMessage().contains("0x11"), e.getMessage());
    }

    @Test
    void mappedBarUsesItsAreasAndFallsBackOutsideThem() throws Exception {
        try (Arena arena = Arena.ofShared()) {
            // a sparse BAR: [0, 0x1000) and [0x2000, 0x4000) mapped, [0x1000, 0x2000) (the MSI-X table) not
            MemorySegment a0 = arena.allocate(0x1000, 4096);
            MemorySegment a1 = arena.allocate(0x2000, 4096);
            FilePciBar file = new FilePciBar(1, SIZE, REGION, device);
            MappedPciBar bar = new MappedPciBar(1, SIZE, new long[] {0, 0x2000}, new MemorySegment[] {a0, a1}, file);
            bar.write32(0x10, 0x01020304);
            bar.write16(0x2002, 0xbeef);
            bar.write8(0x1000, 0x5a);
            assertEquals(0x01020304, a0.get(DeviceFd.LE32, 0x10));
            assertEquals((short) 0xbeef, a1.get(DeviceFd.LE16, 2));
            assertEquals(0x5a, fileBytes(0x1000, 1).get(0), "outside the areas: pwrite on the device fd");
            assertEquals(0x01020304, bar.read32(0x10));
            assertEquals(0xbeef, bar.read16(0x2002));
            assertEquals(0x5a, bar.read8(0x1000));
            assertThrows(IndexOutOfBoundsException.class, () -> bar.read16(SIZE - 1));
        }
    }

    @Test
    void closedDeviceIsRefusedNotReused() {
        FilePciBar bar = new FilePciBar(4, SIZE, REGION, device);
        device.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> bar.write16(0, 0));
        assertTrue(e.getMessage().contains("0000:00:05.0 is closed"), e.getMessage());
    }

    @Test
    void notifyDoesNotAllocateOnEitherBar() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (Arena arena = Arena.ofShared()) {
            FilePciBar file = new FilePciBar(4, SIZE, REGION, device);
            MappedPciBar mapped = new MappedPciBar(4, SIZE, new long[] {0}, new MemorySegment[] {arena.allocate(SIZE, 4096)}, file);
            for (var bar : new io.jvirtio.core.pci.PciBar[] {mapped, file}) {
                int n = bar == mapped ? 1_000_000 : 100_000;
                for (int round = 0; round < 3; round++) { // warm up: let the JIT compile the path
                    notify(bar, n / 10);
                }
                long tid = Thread.currentThread().threadId();
                long before = threads.getThreadAllocatedBytes(tid);
                notify(bar, n);
                long allocated = threads.getThreadAllocatedBytes(tid) - before;
                assertTrue(allocated < 64 * 1024, allocated + " bytes allocated by " + n + " notifies on " + bar);
            }
        }
    }

    private static void notify(io.jvirtio.core.pci.PciBar bar, int n) {
        for (int i = 0; i < n; i++) {
            bar.write16(0x3000, i & 0xffff);
        }
    }
}
