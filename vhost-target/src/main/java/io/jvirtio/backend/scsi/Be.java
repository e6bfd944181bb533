package io.jvirtio.backend.scsi;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** Big-endian field writers for SCSI parameter data built in byte arrays. */
final class Be {
    private Be() {
    }

    static void put16(byte[] b, int off, int v) {
        b[off] = (byte) (v >>> 8);
        b[off + 1] = (byte) v;
    }

    static void put32(byte[] b, int off, long v) {
        put16(b, off, (int) (v >>> 16));
        put16(b, off + 2, (int) v);
    }

    static void put64(byte[] b, int off, long v) {
        put32(b, off, v >>> 32);
        put32(b, off + 4, v);
    }

    static int get16(byte[] b, int off) {
        return ((b[off] & 0xFF) << 8) | (b[off + 1] & 0xFF);
    }

    static long get32(byte[] b, int off) {
        return ((long) get16(b, off) << 16) | get16(b, off + 2);
    }

    static long get64(byte[] b, int off) {
        return (get32(b, off) << 32) | get32(b, off + 4);
    }

    /** Writes {@code s} left-aligned in {@code len} bytes, padded with spaces (SPC ASCII fields). */
    static void putAscii(byte[] b, int off, int len, String s) {
        Arrays.fill(b, off, off + len, (byte) ' ');
        byte[] src = s.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(src, 0, b, off, Math.min(len, src.length));
    }
}
