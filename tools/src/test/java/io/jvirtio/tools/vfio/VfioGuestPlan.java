package io.jvirtio.tools.vfio;

import java.util.ArrayList;
import java.util.List;

/**
 * The VFIO guest run as data both sides share: the QEMU devices (ids, image sizes, block sizes,
 * queues), the scenarios in the order the guest runs them, and what each scenario writes where
 * ({@link ImagePlan}s). {@link VfioGuestTest} builds the guest from it and checks the images,
 * {@link VfioGuestScenarios} executes it in the guest.
 */
final class VfioGuestPlan {
    static final long KIB = 1L << 10;
    static final long MIB = 1L << 20;

    /** The virtio-blk-pci function bound to vfio-pci (num-queues {@link #BLK_QUEUES}). */
    static final String BLK_ID = "vb0";
    /** The virtio-scsi-pci function bound to vfio-pci (LUN 0: 512-byte blocks, LUN 1: 4096-byte blocks). */
    static final String SCSI_ID = "vs0";
    /**
     * A second virtio-blk-pci function bound to vfio-pci, behind a pcie-root-port (so it has FLR), for
     * the JSON-config scenarios ({@code jvirtio perf -w verify} writes all over it).
     */
    static final String PERF_ID = "vp0";
    /** A virtio-blk-pci function left on virtio-pci: attaching it must fail with how to bind it. */
    static final String UNBOUND_ID = "vu0";
    /** A legacy-only virtio-blk-pci ({@code disable-modern=on}) bound to vfio-pci: the transport must refuse it. */
    static final String LEGACY_ID = "vl0";
    /** A modern virtio-blk-pci without {@code iommu_platform=on} bound to vfio-pci: refused, it would DMA around the IOMMU. */
    static final String NO_ACCESS_PLATFORM_ID = "vn0";
    /** A PCI address with no device on the guest's bus 0 (q35: nothing in slot 0x1d). */
    static final String ABSENT_ADDRESS = "0000:00:1d.0";

    static final long BLK_BYTES = 64 * MIB;
    static final long LUN_BYTES = 32 * MIB;
    static final long PERF_BYTES = 16 * MIB;
    static final long UNBOUND_BYTES = 4 * MIB;
    static final int BLK_QUEUES = 2;
    static final int SCSI_QUEUES = 2;
    static final int LUN1_BLOCK_SIZE = 4096;
    /** Each attached device's memory domain. */
    static final long DEVICE_MEMORY = 32 * MIB;
    /** The first region (and growth step) of {@link #BLK_MEMORY_GROWTH}'s memory domain: the smallest a domain has. */
    static final long GROWTH_REGION = 2 * MIB;

    static final String HARNESS_DEVICES = "harness.vfio-devices";
    static final String HARNESS_MEMORY = "harness.memory-domain";
    static final String BLK_ATTACH = "blk.attach";
    static final String BLK_PATTERNS = "blk.patterns";
    static final String BLK_VECTORED = "blk.vectored";
    static final String BLK_FLUSH = "blk.flush";
    static final String BLK_DISCARD = "blk.discard";
    static final String BLK_WRITE_ZEROES = "blk.write-zeroes";
    static final String BLK_TWO_QUEUES = "blk.two-queues";
    static final String BLK_REATTACH = "blk.close-and-reattach";
    static final String SCSI_SCAN = "scsi.scan";
    static final String SCSI_LUN0 = "scsi.lun0-io";
    static final String SCSI_LUN1 = "scsi.lun1-io";
    static final String SCSI_TWO_QUEUES = "scsi.two-queues";
    static final String BLK_MEMORY_GROWTH = "blk.memory-growth";
    static final String BLK_MEMORY_RELEASED = "blk.memory-released";
    static final String BLK_BAR_FILE = "blk.bar-file-access";
    static final String JVIRTIO_BDEVS = "jvirtio.bdevs";
    static final String JVIRTIO_SAVE_CONFIG = "jvirtio.save-config";
    static final String JVIRTIO_PERF = "jvirtio.perf-verify";
    static final String ERROR_UNBOUND = "error.unbound-function";
    static final String ERROR_UNBOUND_CONFIG = "error.unbound-function-config";
    static final String ERROR_ABSENT = "error.absent-device";
    static final String ERROR_NO_DEV_VFIO = "error.no-dev-vfio";
    static final String ERROR_GROUP_FILE_MISSING = "error.group-file-missing";
    static final String ERROR_NO_IOMMU_GROUP = "error.no-iommu-group";
    static final String ERROR_GROUP_IN_USE = "error.group-in-use";
    static final String ERROR_WRONG_TYPE = "error.wrong-device-type";
    static final String ERROR_LEGACY = "error.legacy-only-device";
    static final String ERROR_NO_ACCESS_PLATFORM = "error.no-access-platform";

    /** Every scenario, in the order the guest runs them; the host fails a scenario that does not report. */
    static final List<String> SCENARIOS = List.of(HARNESS_DEVICES, HARNESS_MEMORY,
            BLK_ATTACH, BLK_PATTERNS, BLK_VECTORED, BLK_FLUSH, BLK_DISCARD, BLK_WRITE_ZEROES, BLK_TWO_QUEUES, BLK_REATTACH,
            SCSI_SCAN, SCSI_LUN0, SCSI_LUN1, SCSI_TWO_QUEUES,
            BLK_MEMORY_GROWTH, BLK_MEMORY_RELEASED, BLK_BAR_FILE,
            JVIRTIO_BDEVS, JVIRTIO_SAVE_CONFIG, JVIRTIO_PERF,
            ERROR_UNBOUND, ERROR_UNBOUND_CONFIG, ERROR_ABSENT, ERROR_NO_DEV_VFIO, ERROR_GROUP_FILE_MISSING, ERROR_NO_IOMMU_GROUP,
            ERROR_GROUP_IN_USE, ERROR_WRONG_TYPE, ERROR_LEGACY,
            ERROR_NO_ACCESS_PLATFORM);

    private VfioGuestPlan() {
    }

    /** @return what the blk scenarios write to the virtio-blk image */
    static ImagePlan blk() {
        ImagePlan.Builder b = new ImagePlan.Builder();
        int[] sizes = {512, 1024, 1536, 4096, 4608, 8192, 12288, 16384, 32768, 65536, 131072, 3584};
        for (int i = 0; i < sizes.length; i++) {
            // sector-aligned, mostly not 4 KiB-aligned offsets, one MiB apart
            b.write(BLK_PATTERNS, i * MIB + (i * 5L % 8) * 512, sizes[i], 1000 + i);
        }
        b.write(BLK_PATTERNS, BLK_BYTES - 8 * KIB, (int) (8 * KIB), 1100); // the last blocks of the disk
        b.writev(BLK_VECTORED, 16 * MIB + 512, List.of(512, 4096, 1536, 8192), 2001);
        b.writev(BLK_VECTORED, 17 * MIB, List.of(4096, 4096, 4096, 512, 512), 2002);
        b.write(BLK_FLUSH, 20 * MIB, 4096, 3001);
        b.write(BLK_DISCARD, 24 * MIB, (int) MIB, 4001).discard(BLK_DISCARD, 24 * MIB, MIB);
        b.write(BLK_DISCARD, 25 * MIB, 4096, 4002); // right after the discarded range: must survive
        b.write(BLK_WRITE_ZEROES, 28 * MIB, (int) (256 * KIB), 5001).writeZeroes(BLK_WRITE_ZEROES, 28 * MIB + 64 * KIB, 128 * KIB);
        for (int t = 0; t < BLK_QUEUES; t++) {
            twoQueues(b, t);
        }
        memory(b);
        barFile(b);
        return b.build("blk", BLK_BYTES, 512);
    }

    /**
     * {@link #BLK_MEMORY_GROWTH} (48 MiB on: buffers in the domain's second region) and
     * {@link #BLK_MEMORY_RELEASED} (51 MiB on: the device attached again after the close).
     */
    private static void memory(ImagePlan.Builder b) {
        int[] sizes = {512, 4096, 12288, 65536, 131072, 2560};
        for (int i = 0; i < sizes.length; i++) {
            b.write(BLK_MEMORY_GROWTH, 48 * MIB + i * 256 * KIB + (i * 3L % 8) * 512, sizes[i], 10_000 + i);
        }
        b.writev(BLK_MEMORY_GROWTH, 49 * MIB + 512 * KIB + 1536, List.of(4096, 512, 8192, 1024), 10_100);
        b.write(BLK_MEMORY_GROWTH, 50 * MIB, (int) (64 * KIB), 10_200).writeZeroes(BLK_MEMORY_GROWTH, 50 * MIB + 8 * KIB, 16 * KIB);
        b.write(BLK_MEMORY_RELEASED, 51 * MIB + 512, 8192, 10_300).write(BLK_MEMORY_RELEASED, 51 * MIB + 256 * KIB, 4096, 10_301);
    }

    /** {@link #BLK_BAR_FILE}, 56 MiB on: the data checks with every BAR access through pread/pwrite. */
    private static void barFile(ImagePlan.Builder b) {
        int[] sizes = {512, 1536, 4096, 32768, 131072};
        for (int i = 0; i < sizes.length; i++) {
            b.write(BLK_BAR_FILE, 56 * MIB + i * 256 * KIB + (i * 5L % 8) * 512, sizes[i], 11_000 + i);
        }
        b.writev(BLK_BAR_FILE, 57 * MIB + 512 * KIB, List.of(512, 4096, 2048), 11_100);
        b.write(BLK_BAR_FILE, 58 * MIB, (int) (256 * KIB), 11_200).discard(BLK_BAR_FILE, 58 * MIB, 128 * KIB);
        b.writeZeroes(BLK_BAR_FILE, 58 * MIB + 192 * KIB, 32 * KIB);
    }

    /** Thread {@code t}'s writes in {@link #BLK_TWO_QUEUES}: 32 of 4 KiB in its own 8 MiB from 32 MiB on. */
    private static void twoQueues(ImagePlan.Builder b, int t) {
        for (int k = 0; k < 32; k++) {
            b.write(BLK_TWO_QUEUES, 32 * MIB + t * 8 * MIB + k * 64 * KIB + (k % 8) * 512, 4096, 6000 + t * 100 + k);
        }
    }

    /** @return the offset range {@code [start, end)} of thread {@code t} in {@link #BLK_TWO_QUEUES} */
    static long[] twoQueuesRange(int t) {
        return new long[] {32 * MIB + t * 8 * MIB, 32 * MIB + (t + 1) * 8 * MIB};
    }

    /**
     * @param lun       0 or 1
     * @param blockSize the LUN's logical block size
     * @return what the scsi scenarios write to that LUN's image
     */
    static ImagePlan lun(int lun, int blockSize) {
        ImagePlan.Builder b = new ImagePlan.Builder();
        String scenario = lun == 0 ? SCSI_LUN0 : SCSI_LUN1;
        int[] blocks = {1, 2, 3, 8, 16, 32};
        for (int i = 0; i < blocks.length; i++) {
            b.write(scenario, i * MIB + (long) (i % 3) * blockSize, blocks[i] * blockSize, 8000 + lun * 100 + i);
        }
        b.write(scenario, LUN_BYTES - blockSize, blockSize, 8000 + lun * 100 + 99);
        for (int k = 0; k < 16; k++) {
            b.write(SCSI_TWO_QUEUES, 16 * MIB + k * 128 * KIB, 2 * blockSize, 9000 + lun * 100 + k);
        }
        return b.build("lun" + lun, LUN_BYTES, blockSize);
    }

    /** @return every image plan the host checks: blk, lun0, lun1 */
    static List<ImagePlan> images() {
        List<ImagePlan> all = new ArrayList<>();
        all.add(blk());
        all.add(lun(0, 512));
        all.add(lun(1, LUN1_BLOCK_SIZE));
        return all;
    }
}
