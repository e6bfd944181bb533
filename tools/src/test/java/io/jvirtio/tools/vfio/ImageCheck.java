package io.jvirtio.tools.vfio;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Optional;

/**
 * Host-side checks of a disk image file after the guest exited, against its {@link ImagePlan}:
 * one scenario's ranges, or the whole file (what no operation touched must still be zero).
 * Each check returns the first difference, described, or empty when the bytes are right.
 */
final class ImageCheck {
    private static final int CHUNK = 1 << 20;

    private ImageCheck() {
    }

    /** @return the first wrong byte in the ranges {@code scenario} touched */
    static Optional<String> scenario(Path file, ImagePlan plan, String scenario) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            for (ImagePlan.Op op : plan.of(scenario)) {
                for (long at = op.offset(); at < op.offset() + op.length(); at += CHUNK) {
                    int n = (int) Math.min(CHUNK, op.offset() + op.length() - at);
                    Optional<String> d = compare(plan, ch, at, n, "after " + PlanExecutor.describe(op) + ": ");
                    if (d.isPresent()) {
                        return d;
                    }
                }
            }
        }
        return Optional.empty();
    }

    /** @return the first wrong byte anywhere in the file (its size included) */
    static Optional<String> whole(Path file, ImagePlan plan) throws IOException {
        long size = Files.size(file);
        if (size != plan.size()) {
            return Optional.of(plan.image() + ": file size " + size + ", expected " + plan.size());
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            for (long at = 0; at < size; at += CHUNK) {
                Optional<String> d = compare(plan, ch, at, (int) Math.min(CHUNK, size - at), "");
                if (d.isPresent()) {
                    return d;
                }
            }
        }
        return Optional.empty();
    }

    /** @return the first non-zero byte of a file nobody may write */
    static Optional<String> allZero(Path file) throws IOException {
        return whole(file, new ImagePlan(file.getFileName().toString(), Files.size(file), 512, java.util.List.of()));
    }

    private static Optional<String> compare(ImagePlan plan, FileChannel ch, long at, int n, String context) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(n);
        while (buf.hasRemaining() && ch.read(buf, at + buf.position()) >= 0) {
            // read all
        }
        byte[] actual = buf.array();
        byte[] expected = plan.expected(at, n);
        int i = Arrays.mismatch(expected, actual);
        if (i < 0) {
            return Optional.empty();
        }
        long off = at + i;
        String owner = plan.operations().stream().filter(op -> op.overlaps(off, 1)).reduce((a, b) -> b)
                .map(op -> op.scenario() + "'s " + PlanExecutor.describe(op)).orElse("no operation (must be zero)");
        return Optional.of(plan.image() + ": " + context + "byte at offset " + off + " is 0x" + Integer.toHexString(actual[i] & 0xff)
                + ", expected 0x" + Integer.toHexString(expected[i] & 0xff) + " (written by " + owner + ")");
    }
}
