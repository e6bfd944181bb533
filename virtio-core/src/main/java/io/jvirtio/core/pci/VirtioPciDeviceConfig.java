package io.jvirtio.core.pci;

import io.jvirtio.core.DeviceException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.function.IntUnaryOperator;

/**
 * The device-specific configuration structure (virtio 1.2 4.1.4.6), read and written with each
 * field's own width and reads guarded by {@code config_generation}.
 *
 * <p>Widths (4.1.3.1: "8-bit wide accesses for 8-bit wide fields, 16-bit wide and aligned accesses
 * for 16-bit wide fields and 32-bit wide and aligned accesses for 32-bit and 64-bit wide fields"):
 * a field table for the device type gives the width of the field starting at each offset; a
 * 64-bit field is two 32-bit accesses; where the table knows no field (padding, past the struct,
 * a range starting inside a field, an unknown device type) the widest naturally aligned access of
 * at most 32 bits that stays inside the range is used. SPDK accesses config byte by byte.
 *
 * <p>Generation (2.5.1): read {@code config_generation}, the fields, {@code config_generation}
 * again, and repeat until the two agree, at most {@code generationRetries} times (SPDK loops
 * without bound, libblkio does not look).
 */
final class VirtioPciDeviceConfig {
    private static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final PciBar bar;
    private final long base;
    private final long length;
    private final IntUnaryOperator fieldWidth;
    private final VirtioPciCommonConfig common;
    private final int generationRetries;
    private final String who;

    /**
     * @param device            where the structure is
     * @param fieldWidth        offset → width of the field starting there (1, 2, 4, 8), 0 when none does
     * @param common            for {@code config_generation}
     * @param generationRetries how many passes before giving up
     * @param who               names the function in errors
     */
    VirtioPciDeviceConfig(VirtioPciCapabilities.Structure device, IntUnaryOperator fieldWidth, VirtioPciCommonConfig common,
                          int generationRetries, String who) {
        this.bar = device.bar();
        this.base = device.offset();
        this.length = device.length();
        this.fieldWidth = fieldWidth;
        this.common = common;
        this.generationRetries = generationRetries;
        this.who = who;
    }

    /**
     * Reads {@code dst.byteSize()} bytes at {@code offset}, consistently.
     *
     * @throws DeviceException when the range is outside the structure or the generation keeps changing
     */
    void read(long offset, MemorySegment dst) {
        checkRange(offset, dst.byteSize(), "read");
        for (int pass = 1; ; pass++) {
            int before = common.configGeneration();
            access(offset, dst, false);
            int after = common.configGeneration();
            if (before == after) {
                return;
            }
            if (pass >= generationRetries) {
                throw new DeviceException(who + ": device config kept changing while read (config_generation 0x" + Integer.toHexString(before)
                        + " then 0x" + Integer.toHexString(after) + " in pass " + pass + " of " + generationRetries + ")");
            }
        }
    }

    /**
     * Writes {@code src} at {@code offset}.
     *
     * @throws DeviceException when the range is outside the structure
     */
    void write(long offset, MemorySegment src) {
        checkRange(offset, src.byteSize(), "write");
        access(offset, src, true);
    }

    private void checkRange(long offset, long size, String what) {
        if (offset < 0 || size < 0 || offset + size > length) {
            throw new DeviceException(who + ": device config " + what + " of " + size + " bytes at offset " + offset
                    + " exceeds the device config structure (length " + length + ")");
        }
    }

    private void access(long offset, MemorySegment buf, boolean write) {
        long end = offset + buf.byteSize();
        long pos = offset;
        while (pos < end) {
            int w = width(pos, end - pos);
            long at = pos - offset;
            if (w == 8) {
                one(pos, buf, at, 4, write);
                one(pos + 4, buf, at + 4, 4, write);
            } else {
                one(pos, buf, at, w, write);
            }
            pos += w;
        }
    }

    /** The field's width when a whole field starts at {@code pos}, else the widest aligned fit. */
    private int width(long pos, long remaining) {
        int w = pos <= Integer.MAX_VALUE ? fieldWidth.applyAsInt((int) pos) : 0;
        if (w > 0 && w <= remaining) {
            return w;
        }
        for (int a = 4; a > 1; a >>= 1) {
            if (pos % a == 0 && a <= remaining) {
                return a;
            }
        }
        return 1;
    }

    private void one(long pos, MemorySegment buf, long at, int w, boolean write) {
        long reg = base + pos;
        switch (w) {
            case 1 -> {
                if (write) {
                    bar.write8(reg, buf.get(ValueLayout.JAVA_BYTE, at));
                } else {
                    buf.set(ValueLayout.JAVA_BYTE, at, (byte) bar.read8(reg));
                }
            }
            case 2 -> {
                if (write) {
                    bar.write16(reg, buf.get(LE_SHORT, at));
                } else {
                    buf.set(LE_SHORT, at, (short) bar.read16(reg));
                }
            }
            default -> {
                if (write) {
                    bar.write32(reg, buf.get(LE_INT, at));
                } else {
                    buf.set(LE_INT, at, bar.read32(reg));
                }
            }
        }
    }
}
