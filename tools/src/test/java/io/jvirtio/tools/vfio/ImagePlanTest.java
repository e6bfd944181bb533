package io.jvirtio.tools.vfio;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The host half of {@link VfioGuestTest} without a guest: the plans are consistent, and the image
 * checks pass on a file that holds exactly what the plan says and name the scenario and byte when
 * one byte differs, a discard did not zero, or a byte outside every operation was written. The guest
 * output parser maps lines to scenarios.
 */
class ImagePlanTest {

    @Test
    void scenariosOfDifferentNamesNeverOverlap() {
        for (ImagePlan plan : VfioGuestPlan.images()) {
            List<ImagePlan.Op> ops = plan.operations();
            for (int i = 0; i < ops.size(); i++) {
                for (int k = i + 1; k < ops.size(); k++) {
                    ImagePlan.Op a = ops.get(i);
                    ImagePlan.Op b = ops.get(k);
                    boolean sameScenario = a.scenario().equals(b.scenario());
                    assertTrue(sameScenario || !a.overlaps(b.offset(), b.length()), plan.image() + ": " + a + " overlaps " + b);
                }
            }
            assertTrue(VfioGuestPlan.SCENARIOS.containsAll(plan.scenarios()), plan.scenarios()::toString);
        }
    }

    @Test
    void expectedAppliesOperationsInOrder() {
        ImagePlan plan = new ImagePlan.Builder().write("s", 0, 4096, 7).writeZeroes("s", 1024, 1024).discard("s", 3584, 512)
                .write("t", 8192, 512, 8).build("x", 16384, 512);
        byte[] p = ImagePlan.pattern(7, 4096);
        byte[] e = plan.expected(0, 16384);
        byte[] want = new byte[16384];
        System.arraycopy(p, 0, want, 0, 1024);
        System.arraycopy(p, 2048, want, 2048, 1536);
        System.arraycopy(ImagePlan.pattern(8, 512), 0, want, 8192, 512);
        assertArrayEquals(want, e);
        assertArrayEquals(java.util.Arrays.copyOfRange(want, 1000, 3000), plan.expected(1000, 2000));
        assertEquals(List.of("s", "t"), plan.scenarios());
    }

    @Test
    void vectoredPatternIsThePatternOfTheWholeLength() {
        ImagePlan.Write w = new ImagePlan.Write("s", 0, List.of(512, 1024), 3);
        assertArrayEquals(ImagePlan.pattern(3, 1536), w.bytes());
    }

    @Test
    void operationsMustBeWholeBlocksInsideTheImage() {
        assertThrows(IllegalArgumentException.class, () -> new ImagePlan.Builder().write("s", 512, 4096, 1).build("x", 1 << 20, 4096));
        assertThrows(IllegalArgumentException.class, () -> new ImagePlan.Builder().write("s", 0, 1000, 1).build("x", 1 << 20, 512));
        assertThrows(IllegalArgumentException.class, () -> new ImagePlan.Builder().write("s", (1 << 20) - 512, 1024, 1).build("x", 1 << 20, 512));
        assertThrows(IllegalArgumentException.class, () -> new ImagePlan.Builder().writev("s", 0, List.of(256, 256), 1).build("x", 1 << 20, 512));
    }

    @Test
    void imageChecksPassOnTheRightBytesAndNameTheFirstWrongOne(@TempDir Path dir) throws IOException {
        ImagePlan plan = VfioGuestPlan.blk();
        Path file = dir.resolve("blk.img");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(plan.size());
        }
        // what the guest does: every write, then the discards and zeroes over them
        for (ImagePlan.Op op : plan.operations()) {
            byte[] data = op instanceof ImagePlan.Write w ? w.bytes() : new byte[(int) op.length()];
            writeAt(file, op.offset(), data);
        }
        assertEquals(Optional.empty(), ImageCheck.whole(file, plan));
        for (String s : plan.scenarios()) {
            assertEquals(Optional.empty(), ImageCheck.scenario(file, plan, s), s);
        }

        ImagePlan.Op discard = plan.of(VfioGuestPlan.BLK_DISCARD).get(1);
        writeAt(file, discard.offset() + 4096, new byte[] {1}); // a discard that left data behind
        Optional<String> d = ImageCheck.scenario(file, plan, VfioGuestPlan.BLK_DISCARD);
        assertTrue(d.isPresent() && d.get().contains("offset " + (discard.offset() + 4096)) && d.get().contains("discard"), d::toString);
        assertEquals(Optional.empty(), ImageCheck.scenario(file, plan, VfioGuestPlan.BLK_PATTERNS), "other scenarios unaffected");

        writeAt(file, discard.offset() + 4096, new byte[] {0});
        writeAt(file, 14 * VfioGuestPlan.MIB, new byte[] {(byte) 0xaa}); // outside every operation
        Optional<String> stray = ImageCheck.whole(file, plan);
        assertTrue(stray.isPresent() && stray.get().contains("no operation (must be zero)") && stray.get().contains("0xaa"), stray::toString);
    }

    private static void writeAt(Path file, long offset, byte[] data) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(data), offset);
        }
    }

    @Test
    void guestLinesMapToScenarios() {
        String out = """
                guest: bound at uptime 2.98
                ok: blk.attach (120 ms)
                FAIL: blk.patterns: blk: write read back wrong
                  | java.lang.AssertionError: x
                  | \tat Foo.bar
                FAIL: vfio_bind: 0000:00:05.0 has no IOMMU group
                ok: not.a.scenario
                """;
        GuestLines lines = new GuestLines(out, List.of(VfioGuestPlan.BLK_ATTACH, VfioGuestPlan.BLK_PATTERNS, VfioGuestPlan.BLK_FLUSH));
        assertEquals(new GuestLines.Outcome(true, "", 120), lines.outcome(VfioGuestPlan.BLK_ATTACH).orElseThrow());
        GuestLines.Outcome f = lines.outcome(VfioGuestPlan.BLK_PATTERNS).orElseThrow();
        assertEquals("blk: write read back wrong\njava.lang.AssertionError: x\n\tat Foo.bar", f.reason());
        assertEquals(Optional.empty(), lines.outcome(VfioGuestPlan.BLK_FLUSH));
        assertEquals(List.of("FAIL: vfio_bind: 0000:00:05.0 has no IOMMU group"), lines.strayFailures());
        assertEquals(2.98, lines.number("guest: bound at uptime "));
    }
}
