package io.jvirtio.backend.scsi;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static io.jvirtio.spec.scsi.ScsiSpec.BE_INT;
import static io.jvirtio.spec.scsi.ScsiSpec.BE_LONG;
import static io.jvirtio.spec.scsi.ScsiSpec.BE_SHORT;
import static io.jvirtio.spec.scsi.ScsiSpec.TYPE_DISK;
import static io.jvirtio.spec.scsi.ScsiSpec.VPD_BLOCK_DEVICE_CHARACTERISTICS;
import static io.jvirtio.spec.scsi.ScsiSpec.VPD_BLOCK_LIMITS;
import static io.jvirtio.spec.scsi.ScsiSpec.VPD_DEVICE_IDENTIFICATION;
import static io.jvirtio.spec.scsi.ScsiSpec.VPD_LOGICAL_BLOCK_PROVISIONING;
import static io.jvirtio.spec.scsi.ScsiSpec.VPD_SUPPORTED_PAGES;
import static io.jvirtio.spec.scsi.ScsiSpec.VPD_UNIT_SERIAL;

/**
 * INQUIRY (SPC-4 6.6): standard data and the VPD pages 0x00, 0x80, 0x83, 0xB0, 0xB1 and, when the
 * LUN is thin provisioned, 0xB2 (SBC-3 6.6). A LUN that does not exist answers with peripheral
 * qualifier 011b and device type 0x1F, as SPC requires and as Linux and SPDK expect.
 */
final class InquiryCommand {
    static final int STANDARD_LENGTH = 96;
    static final int PERIPHERAL_NOT_CONNECTED = 0x7F;

    private InquiryCommand() {
    }

    static void execute(ScsiTask t, ScsiLun lun) {
        boolean evpd = (t.u8(1) & 0x01) != 0;
        boolean cmddt = (t.u8(1) & 0x02) != 0;
        int page = t.u8(2);
        int alloc = t.be16(3);
        if (cmddt || (!evpd && page != 0)) {
            t.checkCondition(SenseCode.INVALID_FIELD_IN_CDB);
            return;
        }
        if (!t.expectIn(alloc)) {
            return;
        }
        byte[] data;
        if (!evpd) {
            data = standard(lun);
        } else if (lun == null) {
            data = page == VPD_SUPPORTED_PAGES ? new byte[] {(byte) PERIPHERAL_NOT_CONNECTED, 0, 0, 1, 0} : null;
        } else {
            data = switch (page) {
                case VPD_SUPPORTED_PAGES -> supportedPages(lun);
                case VPD_UNIT_SERIAL -> serial(lun);
                case VPD_DEVICE_IDENTIFICATION -> deviceId(lun);
                case VPD_BLOCK_LIMITS -> blockLimits(lun);
                case VPD_BLOCK_DEVICE_CHARACTERISTICS -> blockCharacteristics();
                case VPD_LOGICAL_BLOCK_PROVISIONING -> lun.thinProvisioning() ? provisioning() : null;
                default -> null;
            };
        }
        if (data == null) {
            t.checkCondition(SenseCode.INVALID_FIELD_IN_CDB);
            return;
        }
        t.sendIn(data, alloc);
    }

    /** Standard INQUIRY data; {@code lun == null} for a LUN that is not connected. */
    static byte[] standard(ScsiLun lun) {
        byte[] d = new byte[STANDARD_LENGTH];
        MemorySegment be = MemorySegment.ofArray(d);
        d[0] = (byte) (lun == null ? PERIPHERAL_NOT_CONNECTED : TYPE_DISK);
        d[2] = 0x06;                               // VERSION: SPC-4
        d[3] = 0x12;                               // HISUP, RESPONSE DATA FORMAT 2
        d[4] = (byte) (STANDARD_LENGTH - 5);       // ADDITIONAL LENGTH
        d[7] = 0x02;                               // CMDQUE
        putAscii(d, 8, 8, lun == null ? "JVIRTIO" : lun.vendor());
        putAscii(d, 16, 16, lun == null ? "Virtio SCSI LUN" : lun.product());
        putAscii(d, 32, 4, lun == null ? "0001" : lun.revision());
        be.set(BE_SHORT, 58, (short) 0x00A0);      // version descriptors: SAM-5
        be.set(BE_SHORT, 60, (short) 0x0460);      // SPC-4
        be.set(BE_SHORT, 62, (short) 0x04C0);      // SBC-3
        return d;
    }

    static byte[] supportedPages(ScsiLun lun) {
        byte[] pages = lun.thinProvisioning()
                ? new byte[] {0x00, (byte) 0x80, (byte) 0x83, (byte) 0xB0, (byte) 0xB1, (byte) 0xB2}
                : new byte[] {0x00, (byte) 0x80, (byte) 0x83, (byte) 0xB0, (byte) 0xB1};
        byte[] d = header(VPD_SUPPORTED_PAGES, pages.length);
        System.arraycopy(pages, 0, d, 4, pages.length);
        return d;
    }

    static byte[] serial(ScsiLun lun) {
        byte[] s = lun.serial().getBytes(StandardCharsets.US_ASCII);
        byte[] d = header(VPD_UNIT_SERIAL, s.length);
        System.arraycopy(s, 0, d, 4, s.length);
        return d;
    }

    /** Device identification: an NAA locally assigned designator and a T10 vendor ID designator, both for the LU. */
    static byte[] deviceId(ScsiLun lun) {
        byte[] serial = lun.serial().getBytes(StandardCharsets.US_ASCII);
        int t10Len = 24 + serial.length;
        byte[] d = header(VPD_DEVICE_IDENTIFICATION, 4 + 8 + 4 + t10Len);
        MemorySegment be = MemorySegment.ofArray(d);
        int p = 4;
        d[p] = 0x01;                               // PROTOCOL IDENTIFIER 0, CODE SET binary
        d[p + 1] = 0x03;                           // PIV 0, ASSOCIATION LU, TYPE NAA
        d[p + 3] = 8;
        be.set(BE_LONG, p + 4, lun.naaIdentifier());
        p += 12;
        d[p] = 0x02;                               // CODE SET ASCII
        d[p + 1] = 0x01;                           // ASSOCIATION LU, TYPE T10 vendor ID
        d[p + 3] = (byte) t10Len;
        putAscii(d, p + 4, 8, lun.vendor());
        putAscii(d, p + 12, 16, lun.product());
        System.arraycopy(serial, 0, d, p + 28, serial.length);
        return d;
    }

    /** Block limits (SBC-3 6.6.4). */
    static byte[] blockLimits(ScsiLun lun) {
        byte[] d = header(VPD_BLOCK_LIMITS, 0x3C);
        MemorySegment be = MemorySegment.ofArray(d);
        d[4] = 0x01;                                                                // WSNZ: a WRITE SAME of zero blocks is refused
        int perPhysical = lun.physicalBlockSize() / lun.blockSize();
        be.set(BE_SHORT, 6, (short) perPhysical);                                   // OPTIMAL TRANSFER LENGTH GRANULARITY
        be.set(BE_INT, 8, (int) Math.min(lun.maxTransferBlocks(), 0xFFFF_FFFFL));   // MAXIMUM TRANSFER LENGTH
        be.set(BE_INT, 12, (int) Math.min(lun.maxTransferBlocks(), 0xFFFF_FFFFL));  // OPTIMAL TRANSFER LENGTH
        if (lun.thinProvisioning()) {
            be.set(BE_INT, 20, (int) lun.maxUnmapBlocks());                         // MAXIMUM UNMAP LBA COUNT
            be.set(BE_INT, 24, lun.maxUnmapDescriptors());                          // MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT
            be.set(BE_INT, 28, perPhysical);                                        // OPTIMAL UNMAP GRANULARITY
        }
        be.set(BE_LONG, 36, lun.maxWriteSameBlocks());                              // MAXIMUM WRITE SAME LENGTH
        return d;
    }

    /** Block device characteristics (SBC-3 6.6.2): a non-rotating medium, form factor not reported. */
    static byte[] blockCharacteristics() {
        byte[] d = header(VPD_BLOCK_DEVICE_CHARACTERISTICS, 0x3C);
        MemorySegment be = MemorySegment.ofArray(d);
        be.set(BE_SHORT, 4, (short) 0x0001);       // MEDIUM ROTATION RATE: non-rotating
        return d;
    }

    /** Logical block provisioning (SBC-3 6.6.4): UNMAP and WRITE SAME (10/16) with UNMAP; unmapped blocks read zero. */
    static byte[] provisioning() {
        byte[] d = header(VPD_LOGICAL_BLOCK_PROVISIONING, 4);
        d[5] = (byte) (0x80 | 0x40 | 0x20 | 0x04); // LBPU, LBPWS, LBPWS10, LBPRZ
        d[6] = 0x02;                               // PROVISIONING TYPE: thin
        return d;
    }

    private static byte[] header(int page, int pageLength) {
        byte[] d = new byte[4 + pageLength];
        MemorySegment be = MemorySegment.ofArray(d);
        d[0] = TYPE_DISK;
        d[1] = (byte) page;
        be.set(BE_SHORT, 2, (short) pageLength);
        return d;
    }

    /** Writes {@code s} left-aligned in {@code len} bytes, padded with spaces (SPC ASCII fields). */
    private static void putAscii(byte[] b, int off, int len, String s) {
        Arrays.fill(b, off, off + len, (byte) ' ');
        byte[] src = s.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(src, 0, b, off, Math.min(len, src.length));
    }
}
