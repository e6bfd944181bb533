package io.jvirtio.backend.scsi;

import java.lang.foreign.MemorySegment;

import java.io.ByteArrayOutputStream;

import static io.jvirtio.spec.scsi.ScsiSpec.BE_INT;
import static io.jvirtio.spec.scsi.ScsiSpec.BE_LONG;
import static io.jvirtio.spec.scsi.ScsiSpec.BE_SHORT;

/**
 * MODE SENSE (6) and (10) (SPC-4 6.11, 6.12) with the caching (0x08) and control (0x0A) pages, or
 * all of them (0x3F). The device-specific parameter carries WP for read-only LUNs and DPOFUA.
 */
final class ModeSenseCommand {
    static final int PAGE_CACHING = 0x08;
    static final int PAGE_CONTROL = 0x0A;
    static final int PAGE_ALL = 0x3F;

    private static final int PC_CHANGEABLE = 1;
    private static final int PC_SAVED = 3;

    private ModeSenseCommand() {
    }

    static void execute(ScsiTask t, ScsiLun lun, boolean ten) {
        boolean dbd = (t.u8(1) & 0x08) != 0;
        boolean llbaa = ten && (t.u8(1) & 0x10) != 0;
        int pc = t.u8(2) >> 6;
        int page = t.u8(2) & 0x3F;
        int subpage = t.u8(3);
        int alloc = ten ? t.be16(7) : t.u8(4);
        if (pc == PC_SAVED) {
            t.checkCondition(SenseCode.SAVING_PARAMETERS_NOT_SUPPORTED);
            return;
        }
        byte[] pages = pages(lun, page, subpage, pc);
        if (pages == null) {
            t.checkCondition(SenseCode.INVALID_FIELD_IN_CDB);
            return;
        }
        if (!t.expectIn(alloc)) {
            return;
        }
        int headerLen = ten ? 8 : 4;
        int descLen = dbd ? 0 : llbaa ? 16 : 8;
        byte[] d = new byte[headerLen + descLen + pages.length];
        MemorySegment be = MemorySegment.ofArray(d);
        int deviceSpecific = (lun.readOnly() ? 0x80 : 0) | 0x10;   // WP, DPOFUA
        if (ten) {
            be.set(BE_SHORT, 0, (short) (d.length - 2));
            d[3] = (byte) deviceSpecific;
            d[4] = (byte) (llbaa ? 0x01 : 0);
            be.set(BE_SHORT, 6, (short) descLen);
        } else {
            d[0] = (byte) (d.length - 1);
            d[2] = (byte) deviceSpecific;
            d[3] = (byte) descLen;
        }
        if (descLen == 8) {
            be.set(BE_INT, headerLen, (int) Math.min(lun.blockCount(), 0xFFFF_FFFFL));
            be.set(BE_INT, headerLen + 4, lun.blockSize());  // byte 4 reserved, 5..7 block length
        } else if (descLen == 16) {
            be.set(BE_LONG, headerLen, lun.blockCount());
            be.set(BE_INT, headerLen + 12, lun.blockSize());
        }
        System.arraycopy(pages, 0, d, headerLen + descLen, pages.length);
        t.sendIn(d, alloc);
    }

    /** @return the requested pages, or null when the page or subpage is not supported */
    static byte[] pages(ScsiLun lun, int page, int subpage, int pc) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        switch (page) {
            case PAGE_CACHING -> {
                if (subpage != 0) {
                    return null;
                }
                out.writeBytes(caching(lun, pc));
            }
            case PAGE_CONTROL -> {
                if (subpage != 0) {
                    return null;
                }
                out.writeBytes(control());
            }
            case PAGE_ALL -> {
                if (subpage != 0 && subpage != 0xFF) {
                    return null;
                }
                out.writeBytes(caching(lun, pc));
                out.writeBytes(control());
            }
            default -> {
                return null;
            }
        }
        return out.toByteArray();
    }

    /** Caching mode page (SBC-3 6.4.5): WCE as configured, read cache enabled; nothing changeable. */
    static byte[] caching(ScsiLun lun, int pc) {
        byte[] p = new byte[20];
        p[0] = PAGE_CACHING;
        p[1] = 0x12;
        if (pc != PC_CHANGEABLE && lun.writeCache()) {
            p[2] = 0x04;                                   // WCE
        }
        return p;
    }

    /** Control mode page (SPC-4 7.5.8): all defaults, fixed-format sense (D_SENSE 0). */
    static byte[] control() {
        byte[] p = new byte[12];
        p[0] = PAGE_CONTROL;
        p[1] = 0x0A;
        return p;
    }
}
