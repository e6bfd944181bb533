package io.jvirtio.tools.vfio;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * What the guest does to one disk image, as data both sides compute: the guest executes the
 * operations ({@link VfioGuestScenarios}), the host afterwards derives from the same list what the
 * image file must hold byte for byte ({@link #expected(long, int)}). Every byte no operation touches
 * must still be zero (the images start as sparse zero files).
 *
 * @param image      a name for messages ({@code blk}, {@code lun0}, ...)
 * @param size       the image size in bytes
 * @param blockSize  the device's logical block size: every offset and length is a multiple of it
 * @param operations in execution order, each tagged with the scenario that runs it
 */
record ImagePlan(String image, long size, int blockSize, List<Op> operations) {
    /** One operation of a scenario on the image. */
    sealed interface Op {
        /** @return the scenario that runs it */
        String scenario();

        /** @return the first byte it touches */
        long offset();

        /** @return how many bytes it touches */
        long length();

        /** @return whether {@code [from, from + n)} overlaps it */
        default boolean overlaps(long from, long n) {
            return offset() < from + n && from < offset() + length();
        }
    }

    /**
     * A (possibly vectored) write of the pattern of {@code seed}, split into iovecs of these lengths.
     *
     * @param scenario   the scenario
     * @param offset     byte offset
     * @param iovLengths the iovec lengths; one entry for a plain write
     * @param seed       the pattern's seed ({@link #pattern(long, int)})
     */
    record Write(String scenario, long offset, List<Integer> iovLengths, long seed) implements Op {
        Write {
            iovLengths = List.copyOf(iovLengths);
        }

        @Override
        public long length() {
            return iovLengths.stream().mapToLong(Integer::longValue).sum();
        }

        /** @return the bytes written, all iovecs in order */
        byte[] bytes() {
            return pattern(seed, Math.toIntExact(length()));
        }
    }

    /** A discard (unmap); QEMU's raw file back-end punches a hole, so it reads back as zeros. */
    record Discard(String scenario, long offset, long length) implements Op {
    }

    /** A write-zeroes. */
    record WriteZeroes(String scenario, long offset, long length) implements Op {
    }

    ImagePlan {
        Objects.requireNonNull(image, "image");
        operations = List.copyOf(operations);
        for (Op op : operations) {
            if (op.offset() % blockSize != 0 || op.length() % blockSize != 0 || op.length() <= 0 || op.offset() + op.length() > size) {
                throw new IllegalArgumentException(image + ": " + op + " is not whole " + blockSize + "-byte blocks inside " + size + " bytes");
            }
            if (op instanceof Write w && w.iovLengths().stream().anyMatch(l -> l % 512 != 0)) {
                throw new IllegalArgumentException(image + ": " + op + " has an iovec that is not a multiple of 512 bytes");
            }
        }
    }

    /** @return the operations of one scenario, in order */
    List<Op> of(String scenario) {
        return operations.stream().filter(op -> op.scenario().equals(scenario)).toList();
    }

    /** @return the scenarios that touch this image, in order of first appearance */
    List<String> scenarios() {
        return operations.stream().map(Op::scenario).distinct().toList();
    }

    /**
     * @param from first byte
     * @param n    how many bytes
     * @return what {@code [from, from + n)} of the image holds after every operation ran
     */
    byte[] expected(long from, int n) {
        byte[] out = new byte[n];
        for (Op op : operations) {
            if (!op.overlaps(from, n)) {
                continue;
            }
            long start = Math.max(from, op.offset());
            long end = Math.min(from + n, op.offset() + op.length());
            int len = (int) (end - start);
            if (op instanceof Write w) {
                System.arraycopy(w.bytes(), (int) (start - op.offset()), out, (int) (start - from), len);
            } else {
                java.util.Arrays.fill(out, (int) (start - from), (int) (start - from) + len, (byte) 0);
            }
        }
        return out;
    }

    /** @return the bytes of the pattern of {@code seed}: the same seed always gives the same bytes */
    static byte[] pattern(long seed, int length) {
        byte[] b = new byte[length];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < length; i += 8) {
            long v = r.nextLong();
            for (int k = 0; k < 8 && i + k < length; k++) {
                b[i + k] = (byte) (v >>> (8 * k));
            }
        }
        return b;
    }

    /** Collects operations in order. */
    static final class Builder {
        private final List<Op> ops = new ArrayList<>();

        Builder write(String scenario, long offset, int length, long seed) {
            ops.add(new Write(scenario, offset, List.of(length), seed));
            return this;
        }

        Builder writev(String scenario, long offset, List<Integer> iovs, long seed) {
            ops.add(new Write(scenario, offset, iovs, seed));
            return this;
        }

        Builder discard(String scenario, long offset, long length) {
            ops.add(new Discard(scenario, offset, length));
            return this;
        }

        Builder writeZeroes(String scenario, long offset, long length) {
            ops.add(new WriteZeroes(scenario, offset, length));
            return this;
        }

        ImagePlan build(String image, long size, int blockSize) {
            return new ImagePlan(image, size, blockSize, ops);
        }
    }
}
