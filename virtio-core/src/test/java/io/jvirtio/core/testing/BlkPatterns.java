package io.jvirtio.core.testing;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.fail;

/** Deterministic patterns, byte comparisons and host-file reads for every blk test: the driver's, the target's and the conformance suite's. */
public final class BlkPatterns {
    private BlkPatterns() {
    }

    /** Fills {@code seg} with bytes derived from {@code seed}: the same seed always gives the same bytes. */
    public static void fill(MemorySegment seg, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        long n = seg.byteSize();
        long i = 0;
        for (; i + 8 <= n; i += 8) {
            seg.set(ValueLayout.JAVA_LONG_UNALIGNED, i, r.nextLong());
        }
        for (; i < n; i++) {
            seg.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt());
        }
    }

    /** @return the pattern of {@code seed} over {@code length} bytes */
    public static byte[] pattern(long seed, int length) {
        byte[] b = new byte[length];
        fill(MemorySegment.ofArray(b), seed);
        return b;
    }

    public static byte[] bytes(MemorySegment seg) {
        return seg.toArray(ValueLayout.JAVA_BYTE);
    }

    /** Asserts equality, naming the first differing byte's position. */
    public static void assertSameBytes(byte[] expected, byte[] actual, String what) {
        if (expected.length != actual.length) {
            fail(what + ": length " + actual.length + ", expected " + expected.length);
        }
        for (int i = 0; i < expected.length; i++) {
            if (expected[i] != actual[i]) {
                fail(what + ": first difference at byte " + i + ": 0x" + Integer.toHexString(actual[i] & 0xff) + ", expected 0x"
                        + Integer.toHexString(expected[i] & 0xff));
            }
        }
    }

    public static boolean allZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    /** Reads {@code length} bytes of a host file at {@code offset}. */
    public static byte[] readFile(Path file, long offset, int length) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(length);
            while (buf.hasRemaining()) {
                if (ch.read(buf, offset + buf.position()) < 0) {
                    break;
                }
            }
            return buf.array();
        }
    }
}
