package io.jvirtio.backend.scsi;

import java.nio.ByteBuffer;

/** CDBs built by hand, byte by byte, from the SPC-4 / SBC-3 layouts. */
final class Cdb {
    private Cdb() {
    }

    static byte[] inquiry(boolean evpd, int page, int alloc) {
        return new byte[] {0x12, (byte) (evpd ? 1 : 0), (byte) page, (byte) (alloc >> 8), (byte) alloc, 0};
    }

    static byte[] testUnitReady() {
        return new byte[6];
    }

    static byte[] requestSense(int alloc) {
        return new byte[] {0x03, 0, 0, 0, (byte) alloc, 0};
    }

    static byte[] startStopUnit(boolean start) {
        return new byte[] {0x1B, 0, 0, 0, (byte) (start ? 1 : 0), 0};
    }

    static byte[] reportLuns(int select, int alloc) {
        byte[] c = new byte[12];
        c[0] = (byte) 0xA0;
        c[2] = (byte) select;
        ByteBuffer.wrap(c).putInt(6, alloc);
        return c;
    }

    static byte[] readCapacity10() {
        byte[] c = new byte[10];
        c[0] = 0x25;
        return c;
    }

    static byte[] readCapacity16(int alloc) {
        byte[] c = new byte[16];
        c[0] = (byte) 0x9E;
        c[1] = 0x10;
        ByteBuffer.wrap(c).putInt(10, alloc);
        return c;
    }

    static byte[] rw6(boolean read, int lba, int blocks) {
        return new byte[] {(byte) (read ? 0x08 : 0x0A), (byte) ((lba >> 16) & 0x1F), (byte) (lba >> 8), (byte) lba,
                (byte) blocks, 0};
    }

    static byte[] rw10(boolean read, long lba, int blocks) {
        return rw10(read, 0, lba, blocks);
    }

    static byte[] rw10(boolean read, int flags, long lba, int blocks) {
        byte[] c = new byte[10];
        c[0] = (byte) (read ? 0x28 : 0x2A);
        c[1] = (byte) flags;
        ByteBuffer.wrap(c).putInt(2, (int) lba).putShort(7, (short) blocks);
        return c;
    }

    static byte[] rw12(boolean read, long lba, long blocks) {
        byte[] c = new byte[12];
        c[0] = (byte) (read ? 0xA8 : 0xAA);
        ByteBuffer.wrap(c).putInt(2, (int) lba).putInt(6, (int) blocks);
        return c;
    }

    static byte[] rw16(boolean read, long lba, long blocks) {
        byte[] c = new byte[16];
        c[0] = (byte) (read ? 0x88 : 0x8A);
        ByteBuffer.wrap(c).putLong(2, lba).putInt(10, (int) blocks);
        return c;
    }

    static byte[] sync10(long lba, int blocks) {
        byte[] c = new byte[10];
        c[0] = 0x35;
        ByteBuffer.wrap(c).putInt(2, (int) lba).putShort(7, (short) blocks);
        return c;
    }

    static byte[] sync16(long lba, long blocks) {
        byte[] c = new byte[16];
        c[0] = (byte) 0x91;
        ByteBuffer.wrap(c).putLong(2, lba).putInt(10, (int) blocks);
        return c;
    }

    static byte[] unmap(int paramLen) {
        byte[] c = new byte[10];
        c[0] = 0x42;
        ByteBuffer.wrap(c).putShort(7, (short) paramLen);
        return c;
    }

    /** UNMAP parameter list: header then one 16-byte descriptor per {lba, blocks}. */
    static byte[] unmapParams(long[]... descriptors) {
        ByteBuffer b = ByteBuffer.allocate(8 + 16 * descriptors.length);
        b.putShort((short) (6 + 16 * descriptors.length));
        b.putShort((short) (16 * descriptors.length));
        b.putInt(0);
        for (long[] d : descriptors) {
            b.putLong(d[0]).putInt((int) d[1]).putInt(0);
        }
        return b.array();
    }

    static byte[] writeSame16(int flags, long lba, long blocks) {
        byte[] c = new byte[16];
        c[0] = (byte) 0x93;
        c[1] = (byte) flags;
        ByteBuffer.wrap(c).putLong(2, lba).putInt(10, (int) blocks);
        return c;
    }

    static byte[] writeSame10(int flags, long lba, int blocks) {
        byte[] c = new byte[10];
        c[0] = 0x41;
        c[1] = (byte) flags;
        ByteBuffer.wrap(c).putInt(2, (int) lba).putShort(7, (short) blocks);
        return c;
    }

    static byte[] modeSense6(boolean dbd, int pc, int page, int subpage, int alloc) {
        return new byte[] {0x1A, (byte) (dbd ? 0x08 : 0), (byte) ((pc << 6) | page), (byte) subpage, (byte) alloc, 0};
    }

    static byte[] modeSense10(boolean llbaa, boolean dbd, int pc, int page, int subpage, int alloc) {
        byte[] c = new byte[10];
        c[0] = 0x5A;
        c[1] = (byte) ((llbaa ? 0x10 : 0) | (dbd ? 0x08 : 0));
        c[2] = (byte) ((pc << 6) | page);
        c[3] = (byte) subpage;
        ByteBuffer.wrap(c).putShort(7, (short) alloc);
        return c;
    }
}
