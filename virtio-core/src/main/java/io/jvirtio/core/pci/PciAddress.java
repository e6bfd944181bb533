package io.jvirtio.core.pci;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A PCI function's address (domain, bus, device, function), as Linux names it in sysfs:
 * {@code 0000:00:05.0}.
 *
 * <p>{@link #parse} takes what SPDK's {@code spdk_pci_addr_parse} takes: {@code DDDD:BB:DD.F},
 * {@code DDDD.BB.DD.F}, {@code DDDD:BB:DD} (function 0), {@code BB:DD.F} and {@code BB.DD.F}
 * (domain 0), {@code BB:DD} and {@code BB.DD} (domain 0, function 0); hexadecimal, bus at most
 * 0xff, device at most 0x1f, function at most 7.
 *
 * @param domain   the PCI segment, 0..0xffff
 * @param bus      0..0xff
 * @param device   0..0x1f
 * @param function 0..7
 */
public record PciAddress(int domain, int bus, int device, int function) {
    /** Largest bus number (8 bits). */
    public static final int MAX_BUS = 0xff;
    /** Largest device number (5 bits). */
    public static final int MAX_DEVICE = 0x1f;
    /** Largest function number (3 bits). */
    public static final int MAX_FUNCTION = 7;
    /** Largest domain number Linux prints with four digits. */
    public static final int MAX_DOMAIN = 0xffff;

    private static final String HEX = "([0-9a-fA-F]{1,8})";
    private static final Pattern FULL = Pattern.compile(HEX + "[:.]" + HEX + "[:.]" + HEX + "\\." + HEX);
    private static final Pattern NO_FUNCTION = Pattern.compile(HEX + ":" + HEX + ":" + HEX);
    private static final Pattern NO_DOMAIN = Pattern.compile(HEX + "[:.]" + HEX + "\\." + HEX);
    private static final Pattern BUS_DEVICE = Pattern.compile(HEX + "[:.]" + HEX);

    /** @throws IllegalArgumentException when a part is out of range */
    public PciAddress {
        check("domain", domain, MAX_DOMAIN);
        check("bus", bus, MAX_BUS);
        check("device", device, MAX_DEVICE);
        check("function", function, MAX_FUNCTION);
    }

    private static void check(String part, int value, int max) {
        if (value < 0 || value > max) {
            throw new IllegalArgumentException("PCI " + part + " 0x" + Integer.toHexString(value) + " is out of range (0..0x"
                    + Integer.toHexString(max) + ")");
        }
    }

    /**
     * Parses a PCI address the way SPDK does.
     *
     * @throws IllegalArgumentException naming the text when it is not a PCI address
     */
    public static PciAddress parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("PCI address is missing");
        }
        String t = text.strip();
        try {
            Matcher m;
            if ((m = FULL.matcher(t)).matches()) {
                return new PciAddress(hex(m, 1), hex(m, 2), hex(m, 3), hex(m, 4));
            }
            if ((m = NO_FUNCTION.matcher(t)).matches()) {
                return new PciAddress(hex(m, 1), hex(m, 2), hex(m, 3), 0);
            }
            if ((m = NO_DOMAIN.matcher(t)).matches()) {
                return new PciAddress(0, hex(m, 1), hex(m, 2), hex(m, 3));
            }
            if ((m = BUS_DEVICE.matcher(t)).matches()) {
                return new PciAddress(0, hex(m, 1), hex(m, 2), 0);
            }
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("Invalid PCI address '" + text + "': " + e.getMessage(), e);
        }
        throw new IllegalArgumentException("Invalid PCI address '" + text + "' (expected domain:bus:device.function, e.g. 0000:00:05.0)");
    }

    private static int hex(Matcher m, int group) {
        long v = Long.parseLong(m.group(group), 16);
        return v > Integer.MAX_VALUE ? Integer.MAX_VALUE : (int) v;
    }

    /** @return the sysfs form, {@code %04x:%02x:%02x.%x} */
    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%04x:%02x:%02x.%x", domain, bus, device, function);
    }
}
