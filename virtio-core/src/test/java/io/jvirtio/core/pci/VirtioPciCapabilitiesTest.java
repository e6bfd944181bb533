package io.jvirtio.core.pci;

import io.jvirtio.core.DeviceException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static io.jvirtio.spec.pci.VirtioPciSpec.*;
import static org.junit.jupiter.api.Assertions.*;

/** {@link VirtioPciCapabilities} on config spaces captured from QEMU 7.2 functions and on broken copies of them. */
class VirtioPciCapabilitiesTest {
    // QEMU's vendor caps in the root-bus fixtures (vfio-plan §3.3): list 0x34 → 0x98 MSI-X → 0x84 PCI_CFG → 0x70 notify → 0x60 device → 0x50 ISR → 0x40 common
    private static final int CAP_COMMON = 0x40;
    private static final int CAP_ISR = 0x50;
    private static final int CAP_DEVICE = 0x60;
    private static final int CAP_NOTIFY = 0x70;
    private static final int CAP_PCI_CFG = 0x84;

    private static VirtioPciCapabilities read(FakeVirtioPciFunction f) {
        return VirtioPciCapabilities.read(f);
    }

    private static void assertQemuLayout(VirtioPciCapabilities caps) {
        assertEquals(4, caps.common().bar().index());
        assertEquals(FakeVirtioPciFunction.COMMON, caps.common().offset());
        assertEquals(0x1000, caps.common().length());
        assertEquals(FakeVirtioPciFunction.NOTIFY, caps.notification().offset());
        assertEquals(FakeVirtioPciFunction.NOTIFY_MULTIPLIER, caps.notifyOffMultiplier());
        assertEquals(FakeVirtioPciFunction.DEVICE, caps.device().offset());
        assertEquals(FakeVirtioPciFunction.ISR, caps.isr().orElseThrow().offset());
    }

    @Test
    void modernBlk() {
        VirtioPciCapabilities caps = read(FakeVirtioPciFunction.fixture("0000:00:05.0"));
        assertEquals(0x1042, caps.deviceId());
        assertEquals(VIRTIO_ID_BLOCK, caps.virtioId());
        assertQemuLayout(caps);
        assertEquals(CAP_COMMON, caps.common().capOffset());
        assertEquals(CAP_NOTIFY, caps.notification().capOffset());
    }

    @Test
    void secondModernBlk() {
        assertQemuLayout(read(FakeVirtioPciFunction.fixture("0000:00:06.0")));
    }

    @Test
    void modernScsi() {
        VirtioPciCapabilities caps = read(FakeVirtioPciFunction.fixture("0000:00:10.0"));
        assertEquals(0x1048, caps.deviceId());
        assertEquals(VIRTIO_ID_SCSI, caps.virtioId());
        assertQemuLayout(caps);
    }

    @Test
    void transitionalBlkTakesTheVirtioIdFromTheSubsystemAndIgnoresTheIoBar() {
        VirtioPciCapabilities caps = read(FakeVirtioPciFunction.fixture("0000:00:12.0"));
        assertEquals(0x1001, caps.deviceId());
        assertEquals(VIRTIO_ID_BLOCK, caps.virtioId());
        assertQemuLayout(caps);
    }

    @ParameterizedTest
    @ValueSource(strings = {"0000:00:07.0", "0000:00:08.0"})
    void transitional9p(String bdf) {
        VirtioPciCapabilities caps = read(FakeVirtioPciFunction.fixture(bdf));
        assertEquals(0x1009, caps.deviceId());
        assertEquals(9, caps.virtioId());
    }

    @Test
    void pcieFunctionBehindARootPort() {
        FakeVirtioPciFunction f = FakeVirtioPciFunction.fixture("0000:01:00.0");
        assertEquals(4096, f.configSize());
        VirtioPciCapabilities caps = read(f);
        assertEquals(VIRTIO_ID_BLOCK, caps.virtioId());
        assertQemuLayout(caps);
        assertEquals(0x84, caps.common().capOffset()); // the last cap of the list, 0xdc → … → 0x84
    }

    @Test
    void legacyOnlyIsRefusedByName() {
        DeviceException e = assertThrows(DeviceException.class, () -> read(FakeVirtioPciFunction.fixture("0000:00:13.0")));
        assertTrue(e.getMessage().contains("0000:00:13.0"), e.getMessage());
        assertTrue(e.getMessage().contains("legacy"), e.getMessage());
        assertTrue(e.getMessage().contains("jvirtio drives virtio 1.0+ (modern) devices only; QEMU: disable-legacy=on or a modern device"),
                e.getMessage());
    }

    @Test
    void noCapListBitIsLegacy() {
        FakeVirtioPciFunction f = FakeVirtioPciFunction.fixture("0000:00:05.0");
        f.setConfig8(0x06, f.readConfig8(0x06) & ~0x10);
        assertTrue(assertThrows(DeviceException.class, () -> read(f)).getMessage().contains("modern"));
    }

    @Test
    void notVirtio() {
        FakeVirtioPciFunction f = FakeVirtioPciFunction.fixture("0000:00:05.0");
        f.setConfig8(0, 0x86);
        f.setConfig8(1, 0x80);
        DeviceException e = assertThrows(DeviceException.class, () -> read(f));
        assertTrue(e.getMessage().contains("not a virtio device (vendor 0x8086"), e.getMessage());
    }

    @Test
    void unknownVirtioDeviceIdRange() {
        FakeVirtioPciFunction f = FakeVirtioPciFunction.fixture("0000:00:05.0");
        f.setConfig8(2, 0x80); // 0x1080
        assertTrue(assertThrows(DeviceException.class, () -> read(f)).getMessage().contains("device 0x1080"));
    }

    @Test
    void loopIsRefused() {
        FakeVirtioPciFunction f = FakeVirtioPciFunction.fixture("0000:00:05.0");
        f.setConfig8(CAP_COMMON + 1, 0x98); // last cap points back to the first
        DeviceException e = assertThrows(DeviceException.class, () -> read(f));
        assertTrue(e.getMessage().contains("loops"), e.getMessage());
    }

    @Test
    void selfLoopIsRefused() {
        FakeVirtioPciFunction f = FakeVirtioPciFunction.fixture("0000:00:05.0");
        f.setConfig8(CAP_NOTIFY + 1, CAP_NOTIFY);
        assertTrue(assertThrows(DeviceException.class, () -> read(f)).getMessage().contains("capability 0x70 reached again"));
    }

    @Test
    void pointerOutsideConfigSpaceEndsTheList() {
        FakeVirtioPciFunction f = FakeVirtioPciFunction.fixture("0000:00:05.0");
        f.setConfig8(CAP_ISR + 1, 0x10); // into the header: the common cap after it is never reached
        DeviceException e = assertThrows(DeviceException.class, () -> read(f));
        assertTrue(e.getMessage().contains("no usable VIRTIO_PCI_CAP_COMMON_CFG"), e.getMessage());
        assertTrue(e.getMessage().contains("outside config space"), e.getMessage());
    }

    @Test
    void reservedBarIsIgnored() {
        FakeVirtioPciFunction f = FakeVirtioPciFunction.fixture("0000:00:05.0");
        f.setConfig8(CAP_COMMON + VIRTIO_PCI_CAP_BAR, 6);
        DeviceException e = assertThrows(DeviceException.class, () -> read(f));
        assertTrue(e.getMessage().contains("no usable VIRTIO_PCI_CAP_COMMON_CFG"), e.getMessage());
        assertTrue(e.getMessage().contains("reserved bar 6"), e.getMessage());
    }

    @Test
    void absentBarIsIgnored() {
        FakeVirtioPciFunction f = FakeVirtioPciFunction.fixture("0000:00:05.0");
        f.setConfig8(CAP_DEVICE + VIRTIO_PCI_CAP_BAR, 2);
        DeviceException e = assertThrows(DeviceException.class, () -> read(f));
        assertTrue(e.getMessage().contains("no usable VIRTIO_PCI_CAP_DEVICE_CFG"), e.getMessage());
        assertTrue(e.getMessage().contains("BAR 2 is absent"), e.getMessage());
    }

    @Test
    void structurePastTheBarIsIgnored() {
        FakeVirtioPciFunction f = FakeVirtioPciFunction.fixture("0000:00:05.0");
        f.setConfig32(CAP_DEVICE + VIRTIO_PCI_CAP_OFFSET, 0x3800);
        DeviceException e = assertThrows(DeviceException.class, () -> read(f));
        assertTrue(e.getMessage().contains("no usable VIRTIO_PCI_CAP_DEVICE_CFG"), e.getMessage());
        assertTrue(e.getMessage().contains("overflows BAR 4 (size 0x4000)"), e.getMessage());
    }

    @Test
    void offsetPlusLengthOverflowIsIgnored() {
        FakeVirtioPciFunction f = FakeVirtioPciFunction.fixture("0000:00:05.0");
        f.setConfig32(CAP_NOTIFY + VIRTIO_PCI_CAP_OFFSET, 0xfffff000);
        f.setConfig32(CAP_NOTIFY + VIRTIO_PCI_CAP_LENGTH, 0x2000);
        assertTrue(assertThrows(DeviceException.class, () -> read(f)).getMessage().contains("no usable VIRTIO_PCI_CAP_NOTIFY_CFG"));
    }

    @Test
    void shortCapLenIsIgnored() {
        FakeVirtioPciFunction f = FakeVirtioPciFunction.fixture("0000:00:05.0");
        f.setConfig8(CAP_COMMON + VIRTIO_PCI_CAP_LEN, 8);
        DeviceException e = assertThrows(DeviceException.class, () -> read(f));
        assertTrue(e.getMessage().contains("cap_len 8 < 16"), e.getMessage());
    }

    @Test
    void notifyCapShorterThanTwentyIsIgnored() {
        FakeVirtioPciFunction f = FakeVirtioPciFunction.fixture("0000:00:05.0");
        f.setConfig8(CAP_NOTIFY + VIRTIO_PCI_CAP_LEN, 16);
        DeviceException e = assertThrows(DeviceException.class, () -> read(f));
        assertTrue(e.getMessage().contains("no usable VIRTIO_PCI_CAP_NOTIFY_CFG"), e.getMessage());
        assertTrue(e.getMessage().contains("cap_len 16 < 20"), e.getMessage());
    }

    @Test
    void commonCfgShorterThanItsStructIsIgnored() {
        FakeVirtioPciFunction f = FakeVirtioPciFunction.fixture("0000:00:05.0");
        f.setConfig32(CAP_COMMON + VIRTIO_PCI_CAP_LENGTH, 0x20);
        assertTrue(assertThrows(DeviceException.class, () -> read(f)).getMessage().contains("length 32 < 56"));
    }

    @Test
    void firstOfEachTypeWins() {
        FakeVirtioPciFunction f = FakeVirtioPciFunction.fixture("0000:00:05.0");
        // the PCI_CFG cap at 0x84 comes before the real common cap in the list: make it a second common cap
        f.setConfig8(CAP_PCI_CFG + VIRTIO_PCI_CAP_CFG_TYPE, VIRTIO_PCI_CAP_COMMON_CFG);
        f.setConfig8(CAP_PCI_CFG + VIRTIO_PCI_CAP_BAR, 4);
        f.setConfig32(CAP_PCI_CFG + VIRTIO_PCI_CAP_OFFSET, 0x800);
        f.setConfig32(CAP_PCI_CFG + VIRTIO_PCI_CAP_LENGTH, 0x100);
        VirtioPciCapabilities caps = read(f);
        assertEquals(CAP_PCI_CFG, caps.common().capOffset());
        assertEquals(0x800, caps.common().offset());
    }

    @Test
    void anUnusableFirstCapDoesNotHideAUsableSecondOne() {
        FakeVirtioPciFunction f = FakeVirtioPciFunction.fixture("0000:00:05.0");
        f.setConfig8(CAP_PCI_CFG + VIRTIO_PCI_CAP_CFG_TYPE, VIRTIO_PCI_CAP_COMMON_CFG);
        f.setConfig8(CAP_PCI_CFG + VIRTIO_PCI_CAP_BAR, 4);
        f.setConfig32(CAP_PCI_CFG + VIRTIO_PCI_CAP_OFFSET, 0x3ff0); // past the BAR's end
        f.setConfig32(CAP_PCI_CFG + VIRTIO_PCI_CAP_LENGTH, 0x100);
        assertEquals(CAP_COMMON, read(f).common().capOffset());
    }

    @ParameterizedTest
    @ValueSource(ints = {CAP_COMMON, CAP_NOTIFY, CAP_DEVICE})
    void missingCapabilityIsNamed(int cap) {
        FakeVirtioPciFunction f = FakeVirtioPciFunction.fixture("0000:00:05.0");
        int type = f.readConfig8(cap + VIRTIO_PCI_CAP_CFG_TYPE);
        f.setConfig8(cap + VIRTIO_PCI_CAP_CFG_TYPE, VIRTIO_PCI_CAP_VENDOR_CFG);
        DeviceException e = assertThrows(DeviceException.class, () -> read(f));
        assertTrue(e.getMessage().contains("0000:00:05.0"), e.getMessage());
        assertTrue(e.getMessage().contains("no usable " + capTypeName(type) + " capability"), e.getMessage());
    }

    @Test
    void missingIsrIsFine() {
        FakeVirtioPciFunction f = FakeVirtioPciFunction.fixture("0000:00:05.0");
        f.setConfig8(CAP_ISR + VIRTIO_PCI_CAP_CFG_TYPE, VIRTIO_PCI_CAP_VENDOR_CFG);
        assertTrue(read(f).isr().isEmpty());
    }
}
