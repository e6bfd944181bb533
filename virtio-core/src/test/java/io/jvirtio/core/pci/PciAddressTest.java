package io.jvirtio.core.pci;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.*;

/** {@link PciAddress}: SPDK's {@code spdk_pci_addr_parse} forms and limits, sysfs formatting. */
class PciAddressTest {
    @ParameterizedTest
    @CsvSource({
            "0000:00:05.0, 0, 0, 5, 0",
            "0000.00.05.0, 0, 0, 5, 0",
            "0001:02:03,   1, 2, 3, 0",
            "00:05.1,      0, 0, 5, 1",
            "00.05.1,      0, 0, 5, 1",
            "3b:1f,        0, 0x3b, 0x1f, 0",
            "3b.1f,        0, 0x3b, 0x1f, 0",
            "ffff:ff:1f.7, 0xffff, 0xff, 0x1f, 7",
            "0000:AB:0c.3, 0, 0xab, 0xc, 3",
    })
    void spdkForms(String text, String domain, String bus, String device, String function) {
        PciAddress a = PciAddress.parse(text);
        assertEquals(new PciAddress(Integer.decode(domain), Integer.decode(bus), Integer.decode(device), Integer.decode(function)), a);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "0000:100:00.0", "0000:00:20.0", "0000:00:05.8", "10000:00:05.0", "xyz", "0000:00:05.0.1", "5"})
    void refused(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PciAddress.parse(text));
        assertTrue(e.getMessage().startsWith("Invalid PCI address '" + text + "'"), e.getMessage());
    }

    @Test
    void nullIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> PciAddress.parse(null));
    }

    @Test
    void constructorChecksLimits() {
        assertThrows(IllegalArgumentException.class, () -> new PciAddress(0, 0, 0x20, 0));
        assertThrows(IllegalArgumentException.class, () -> new PciAddress(0, 0x100, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new PciAddress(0, 0, 0, 8));
        assertThrows(IllegalArgumentException.class, () -> new PciAddress(-1, 0, 0, 0));
    }

    @Test
    void formatsAsSysfs() {
        assertEquals("0000:00:05.0", new PciAddress(0, 0, 5, 0).toString());
        assertEquals("00ab:cd:1f.7", new PciAddress(0xab, 0xcd, 0x1f, 7).toString());
        assertEquals("0000:01:00.0", PciAddress.parse("1:0").toString());
    }
}
