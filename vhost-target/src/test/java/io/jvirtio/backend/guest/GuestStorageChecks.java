package io.jvirtio.backend.guest;

import io.jvirtio.backend.guest.GuestTargets.Attached;
import io.jvirtio.backend.guest.GuestTargets.BlkDisk;
import io.jvirtio.backend.guest.GuestTargets.BlkTargetFactory;
import io.jvirtio.backend.guest.GuestTargets.ScsiLun;
import io.jvirtio.backend.guest.GuestTargets.ScsiTargetFactory;
import io.jvirtio.testkit.guest.GuestResult;
import io.jvirtio.testkit.guest.LinuxGuest;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The checks of issue 4's "proof that it is a correct device", run inside a Linux guest against
 * any peer ({@link GuestTargets}), then verified on the host in the backing files:
 * <ul>
 *   <li>the disk appears with the right size and logical block size (sysfs);</li>
 *   <li>a pattern written with {@code dd oflag=direct} reads back (O_DIRECT), also at the last
 *       64 KiB of the disk; a write past the end fails;</li>
 *   <li>a pattern written through the page cache, then {@code sync} and dropped caches, reads back
 *       both with O_DIRECT and buffered;</li>
 *   <li>{@code blkdiscard} of a range (pre-filled with a non-zero byte on the host) works and the
 *       range reads back as zeros, where the device offers discard; otherwise the step is skipped
 *       with a printed reason;</li>
 *   <li>SCSI: every LUN of every target appears as a SCSI disk ({@code /sys/class/scsi_disk/H:0:T:L}),
 *       and nothing else, then the same data checks per LUN;</li>
 *   <li>on the host, each image holds the patterns at their offsets and zeros where discarded.</li>
 * </ul>
 * Patterns travel from the host into the guest through a read-only 9p share.
 */
final class GuestStorageChecks {
    static final long KIB = 1024;
    static final long MIB = 1024 * KIB;
    /** O_DIRECT pattern: 64 KiB at 1 MiB + 64 KiB. */
    static final long DIRECT_OFF = MIB + 64 * KIB;
    static final int DIRECT_LEN = (int) (64 * KIB);
    /** Buffered pattern: 260 KiB (not a multiple of 64 KiB: crosses request boundaries) at 3 MiB. */
    static final long BUFFERED_OFF = 3 * MIB;
    static final int BUFFERED_LEN = (int) (260 * KIB);
    /** Discarded range: 2 MiB at 8 MiB, pre-filled with {@link #FILL} on the host. */
    static final long DISCARD_OFF = 8 * MIB;
    static final int DISCARD_LEN = (int) (2 * MIB);
    static final byte FILL = (byte) 0xA5;
    /** Disks must be at least this large for the offsets above. */
    static final long MIN_CAPACITY = 16 * MIB;
    static final Duration GUEST_TIMEOUT = Duration.ofSeconds(60);

    private GuestStorageChecks() {
    }

    // ------------------------------------------------------------------ images

    /**
     * Creates a sparse raw image of {@code capacity} bytes with {@link #FILL} over the discard range.
     *
     * @return its path
     */
    static Path image(Path dir, String name, long capacity) throws IOException {
        if (capacity < MIN_CAPACITY) {
            throw new IllegalArgumentException("capacity " + capacity + " < " + MIN_CAPACITY);
        }
        Path p = dir.resolve(name + ".img");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(capacity);
            byte[] fill = new byte[DISCARD_LEN];
            Arrays.fill(fill, FILL);
            f.seek(DISCARD_OFF);
            f.write(fill);
        }
        return p;
    }

    /** @return a virtio-blk disk description with a fresh image {@code <name>.img} in {@code dir} */
    static BlkDisk blkDisk(Path dir, String name, long capacity, int logicalBlockSize, int numQueues, boolean discard) throws IOException {
        return new BlkDisk(image(dir, name, capacity), capacity, logicalBlockSize, numQueues, discard);
    }

    /** @return a SCSI LUN description with a fresh image in {@code dir} */
    static ScsiLun scsiLun(Path dir, String controller, int target, int lun, long capacity, int logicalBlockSize) throws IOException {
        return new ScsiLun(target, lun, image(dir, controller + "-t" + target + "-l" + lun, capacity), capacity, logicalBlockSize);
    }

    private static byte[] pattern(String name, int length) {
        byte[] b = new byte[length];
        new Random(name.hashCode() * 31L + length).nextBytes(b);
        return b;
    }

    /** Pattern files for one disk, keyed by a shell-safe name. */
    private static void writePatterns(Path dir, String key) throws IOException {
        Files.write(dir.resolve(key + "-direct.bin"), pattern(key + "-direct", DIRECT_LEN));
        Files.write(dir.resolve(key + "-tail.bin"), pattern(key + "-tail", DIRECT_LEN));
        Files.write(dir.resolve(key + "-buffered.bin"), pattern(key + "-buffered", BUFFERED_LEN));
    }

    // ------------------------------------------------------------------ guest script

    /** Shell functions the generated scripts call: check_disk KEY DEV SECTORS LBS CAPACITY DISCARD(0|1). */
    private static final String FUNCTIONS = """
            P=/mnt/patterns
            DIRECT_OFF=%d; DIRECT_LEN=%d; BUFFERED_OFF=%d; BUFFERED_LEN=%d; DISCARD_OFF=%d; DISCARD_LEN=%d
            head -c $DISCARD_LEN /dev/zero > /tmp/zeros
            ddq() {  # dd that prints its error and fails the step
              dd "$@" 2>/tmp/dd.err || { cat /tmp/dd.err; return 1; }
            }
            check_disk() {
              key=$1 dev=$2 sectors=$3 lbs=$4 cap=$5 discard=$6
              echo "== $key is /dev/$dev"
              expect_eq "$key size in 512-byte sectors" "$(cat /sys/block/$dev/size)" "$sectors"
              expect_eq "$key logical block size" "$(cat /sys/block/$dev/queue/logical_block_size)" "$lbs"
              # O_DIRECT: write, read back
              ddq if=$P/$key-direct.bin of=/dev/$dev bs=65536 seek=$((DIRECT_OFF / 65536)) oflag=direct || fail "$key: O_DIRECT write"
              ddq if=/dev/$dev of=/tmp/r bs=65536 skip=$((DIRECT_OFF / 65536)) count=1 iflag=direct || fail "$key: O_DIRECT read"
              cmp $P/$key-direct.bin /tmp/r || fail "$key: O_DIRECT read-back differs at $DIRECT_OFF"
              echo "ok: $key O_DIRECT write/read-back of $DIRECT_LEN bytes at $DIRECT_OFF"
              # the last 64 KiB, and one block past the end
              last=$((cap / 65536 - 1))
              ddq if=$P/$key-tail.bin of=/dev/$dev bs=65536 seek=$last oflag=direct || fail "$key: O_DIRECT write of the last 64 KiB"
              ddq if=/dev/$dev of=/tmp/r bs=65536 skip=$last count=1 iflag=direct || fail "$key: O_DIRECT read of the last 64 KiB"
              cmp $P/$key-tail.bin /tmp/r || fail "$key: the last 64 KiB read back differ"
              echo "ok: $key last 64 KiB"
              if dd if=/dev/zero of=/dev/$dev bs=$lbs seek=$((cap / lbs)) count=1 oflag=direct 2>/dev/null; then
                fail "$key: a write past the end ($cap bytes) succeeded"
              fi
              echo "ok: $key write past the end fails"
              # buffered: write through the page cache, sync, drop caches, read back both ways
              ddq if=$P/$key-buffered.bin of=/dev/$dev bs=4096 seek=$((BUFFERED_OFF / 4096)) || fail "$key: buffered write"
              sync
              echo 3 > /proc/sys/vm/drop_caches
              ddq if=/dev/$dev of=/tmp/r bs=4096 skip=$((BUFFERED_OFF / 4096)) count=$((BUFFERED_LEN / 4096)) iflag=direct || fail "$key: O_DIRECT read of the buffered write"
              cmp $P/$key-buffered.bin /tmp/r || fail "$key: buffered write, O_DIRECT read-back differs"
              ddq if=/dev/$dev of=/tmp/r bs=4096 skip=$((BUFFERED_OFF / 4096)) count=$((BUFFERED_LEN / 4096)) || fail "$key: buffered read"
              cmp $P/$key-buffered.bin /tmp/r || fail "$key: buffered write, buffered read-back differs"
              echo "ok: $key buffered write + sync, read back with O_DIRECT and through the page cache"
              # discard
              max=$(cat /sys/block/$dev/queue/discard_max_bytes)
              if ! command -v blkdiscard >/dev/null; then
                skip_step "$key discard: busybox has no blkdiscard"
              elif [ "$max" = 0 ]; then
                [ "$discard" = 1 ] && fail "$key: the device should offer discard but discard_max_bytes is 0"
                skip_step "$key discard: the device does not offer discard (discard_max_bytes 0)"
              else
                blkdiscard -o $DISCARD_OFF -l $DISCARD_LEN /dev/$dev || fail "$key: blkdiscard -o $DISCARD_OFF -l $DISCARD_LEN"
                ddq if=/dev/$dev of=/tmp/r bs=65536 skip=$((DISCARD_OFF / 65536)) count=$((DISCARD_LEN / 65536)) iflag=direct || fail "$key: read of the discarded range"
                cmp /tmp/zeros /tmp/r || fail "$key: the discarded range does not read back as zeros"
                echo "ok: $key discard of $DISCARD_LEN bytes at $DISCARD_OFF reads back as zeros (granularity $(cat /sys/block/$dev/queue/discard_granularity), max $max)"
              fi
            }
            """.formatted(DIRECT_OFF, DIRECT_LEN, BUFFERED_OFF, BUFFERED_LEN, DISCARD_OFF, DISCARD_LEN);

    // ------------------------------------------------------------------ blk

    /**
     * Serves each disk with {@code factory}, boots one guest with all of them (ids {@code blk0},
     * {@code blk1}, ...), runs the checks and verifies the images.
     *
     * @return the guest's result (succeeded)
     */
    static GuestResult checkBlk(BlkTargetFactory factory, List<BlkDisk> disks, Path workDir) throws Exception {
        return checkBlk(factory, disks, workDir, false);
    }

    /** {@link #checkBlk(BlkTargetFactory, List, Path)}; with {@code packed}, the guest also checks that each disk runs packed rings. */
    static GuestResult checkBlk(BlkTargetFactory factory, List<BlkDisk> disks, Path workDir, boolean packed) throws Exception {
        Path patterns = Files.createDirectories(workDir.resolve("patterns"));
        StringBuilder script = new StringBuilder(FUNCTIONS);
        List<Attached> started = new ArrayList<>();
        GuestResult r;
        try {
            LinuxGuest.Builder guest = LinuxGuest.builder().timeout(GUEST_TIMEOUT).share("patterns", patterns, "/mnt/patterns", true);
            for (int i = 0; i < disks.size(); i++) {
                BlkDisk d = disks.get(i);
                String id = "blk" + i;
                writePatterns(patterns, id);
                Attached a = factory.start(id, d, workDir);
                started.add(a);
                a.attach(guest);
                script.append("dev=$(blk_of ").append(id).append(") || exit 1\n")
                        .append("check_disk ").append(id).append(" $dev ").append(d.capacity() / 512).append(' ')
                        .append(d.logicalBlockSize()).append(' ').append(d.capacity()).append(' ').append(d.discard() ? 1 : 0).append('\n');
                if (packed) {
                    script.append(packedRingCheck(id));
                }
            }
            script.append("echo ALL-BLK-CHECKS-PASSED\n");
            r = guest.run(script.toString());
        } finally {
            closeAll(started);
        }
        r.requireSuccess();
        assertTrue(r.scriptOutput().contains("ALL-BLK-CHECKS-PASSED"), r::describe);
        for (int i = 0; i < disks.size(); i++) {
            verifyImage(disks.get(i).image(), "blk" + i, disks.get(i).capacity(), disks.get(i).discard() && !skippedDiscard(r, "blk" + i));
        }
        return r;
    }

    // ------------------------------------------------------------------ scsi

    /**
     * Serves one virtio-scsi controller ({@code scsi0}) with {@code luns}, boots a guest, checks that
     * exactly these LUNs appear as SCSI disks and runs the data checks on each.
     *
     * @return the guest's result (succeeded)
     */
    static GuestResult checkScsi(ScsiTargetFactory factory, List<ScsiLun> luns, int numQueues, boolean discard, Path workDir) throws Exception {
        return checkScsi(factory, luns, numQueues, discard, workDir, false);
    }

    /** {@link #checkScsi(ScsiTargetFactory, List, int, boolean, Path)}; with {@code packed}, the guest also checks the controller runs packed rings. */
    static GuestResult checkScsi(ScsiTargetFactory factory, List<ScsiLun> luns, int numQueues, boolean discard, Path workDir,
                                 boolean packed) throws Exception {
        Path patterns = Files.createDirectories(workDir.resolve("patterns"));
        String id = "scsi0";
        StringBuilder script = new StringBuilder(FUNCTIONS);
        String expected = luns.stream().map(l -> "0:" + l.target() + ":" + l.lun())
                .sorted().collect(Collectors.joining(" "));
        script.append("host=$(scsi_host_of ").append(id).append(") || exit 1\n")
                .append("scsi_disks_of ").append(id).append('\n')
                .append("found=$(scsi_disks_of ").append(id).append(" | cut -d' ' -f1 | cut -d: -f2- | sort | tr '\\n' ' ' | sed 's/ $//')\n")
                .append("expect_eq \"").append(id).append(" LUNs (C:T:L)\" \"$found\" \"").append(expected).append("\"\n");
        for (ScsiLun l : luns) {
            String key = lunKey(id, l);
            writePatterns(patterns, key);
            script.append("dev=$(hctl_disk $host:0:").append(l.target()).append(':').append(l.lun()).append(")\n")
                    .append("[ -n \"$dev\" ] || fail \"no sd device for ").append(l.target()).append(':').append(l.lun()).append("\"\n")
                    .append("check_disk ").append(key).append(" $dev ").append(l.capacity() / 512).append(' ')
                    .append(l.logicalBlockSize()).append(' ').append(l.capacity()).append(' ').append(discard ? 1 : 0).append('\n');
        }
        if (packed) {
            script.append(packedRingCheck(id));
        }
        script.append("echo ALL-SCSI-CHECKS-PASSED\n");
        GuestResult r;
        try (Attached a = factory.start(id, luns, numQueues, discard, workDir)) {
            LinuxGuest.Builder guest = LinuxGuest.builder().timeout(GUEST_TIMEOUT).share("patterns", patterns, "/mnt/patterns", true);
            a.attach(guest);
            r = guest.run(script.toString());
        }
        r.requireSuccess();
        assertTrue(r.scriptOutput().contains("ALL-SCSI-CHECKS-PASSED"), r::describe);
        for (ScsiLun l : luns) {
            String key = lunKey(id, l);
            verifyImage(l.image(), key, l.capacity(), discard && !skippedDiscard(r, key));
        }
        return r;
    }

    /**
     * A guest check that the virtio device with {@code id} negotiated VIRTIO_F_RING_PACKED: its sysfs
     * {@code features} is one character per bit, bit 0 first, so bit 34 is character 35.
     */
    static String packedRingCheck(String id) {
        return ("f=$(cat /sys/bus/pci/devices/$(pci_of %1$s)/virtio*/features) || exit 1\n"
                + "[ \"$(echo \"$f\" | cut -c35)\" = 1 ] || fail \"%1$s: VIRTIO_F_RING_PACKED (bit 34) not negotiated: features $f\"\n"
                + "echo \"ok: %1$s runs packed rings (features $f)\"\n").formatted(id);
    }

    /** Lines sorted as {@code expected} is: "0:T:L" compares as a string on both sides. */
    private static String lunKey(String controller, ScsiLun l) {
        return controller + "_t" + l.target() + "_l" + l.lun();
    }

    private static boolean skippedDiscard(GuestResult r, String key) {
        return r.skippedSteps().stream().anyMatch(s -> s.startsWith(key + " discard"));
    }

    // ------------------------------------------------------------------ host side

    /** The image holds the patterns at their offsets, and zeros over the discarded range. */
    static void verifyImage(Path image, String key, long capacity, boolean discarded) throws IOException {
        assertEquals(capacity, Files.size(image), key + ": image size changed");
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ)) {
            assertArrayEquals(pattern(key + "-direct", DIRECT_LEN), read(ch, DIRECT_OFF, DIRECT_LEN),
                    key + ": O_DIRECT pattern not in " + image + " at " + DIRECT_OFF);
            assertArrayEquals(pattern(key + "-tail", DIRECT_LEN), read(ch, capacity - DIRECT_LEN, DIRECT_LEN),
                    key + ": tail pattern not in " + image + " at " + (capacity - DIRECT_LEN));
            assertArrayEquals(pattern(key + "-buffered", BUFFERED_LEN), read(ch, BUFFERED_OFF, BUFFERED_LEN),
                    key + ": buffered pattern not in " + image + " at " + BUFFERED_OFF);
            byte[] d = read(ch, DISCARD_OFF, DISCARD_LEN);
            byte[] expect = new byte[DISCARD_LEN];
            if (!discarded) {
                Arrays.fill(expect, FILL);
            }
            assertArrayEquals(expect, d, key + ": the range at " + DISCARD_OFF + " should " + (discarded ? "be zeros after discard" : "be untouched"));
        }
    }

    private static byte[] read(FileChannel ch, long off, int len) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(len);
        while (b.hasRemaining()) {
            if (ch.read(b, off + b.position()) < 0) {
                break;
            }
        }
        return b.array();
    }

    private static void closeAll(List<Attached> started) {
        RuntimeException first = null;
        for (Attached a : started.reversed()) {
            try {
                a.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
