package io.jvirtio.conformance;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.IoType;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.core.RingType;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.scsi.BdevListener;
import io.jvirtio.scsi.VirtioScsiChannel;
import io.jvirtio.scsi.VirtioScsiController;
import io.jvirtio.scsi.VirtioScsiDisk;
import io.jvirtio.scsi.VirtioScsiOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static io.jvirtio.conformance.ScsiSuiteIo.*;
import static io.jvirtio.core.testing.BlkPatterns.*;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * jvirtio's virtio-scsi initiator against a vhost-user-scsi target, whatever the target is: a
 * subclass says how to start one ({@link #startTarget}) in the standard layout: target 0 one LUN of
 * 64 MiB in 512-byte blocks, target 1 one LUN of 64 MiB in 4096-byte blocks. Data is checked read
 * back through the disk, byte for byte, and in the target's store when the target lets the test see
 * it. Hot-plug cases run only on targets that can add and remove targets while attached.
 *
 * <p>Run by {@code JavaTargetScsiSuiteTest} (the Java target in this JVM), {@code
 * JavaTargetContainerScsiSuiteTest} (the Java target's image) and {@code SpdkScsiSuiteTest} (SPDK's
 * vhost in a container). A case for one target only does not belong here.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class AbstractScsiInitiatorSuite {
    protected static final long DISK_BYTES = 64L << 20;
    /** I/O threads of the concurrency case; the initiator asks for one request queue each. */
    protected static final int THREADS = 4;
    /** The target number the hot-plug case adds and removes. */
    protected static final int HOTPLUG_TARGET = 2;
    private static final long HOTPLUG_BYTES = 16L << 20;
    private static final Duration EVENT_DEADLINE = Duration.ofSeconds(30);
    private static final Logger LOG = LoggerFactory.getLogger(AbstractScsiInitiatorSuite.class);

    /** A started target in the standard layout. */
    public interface StartedScsiTarget extends AutoCloseable {
        /** @return where the initiator connects */
        Path socketPath();

        /**
         * @return {@code length} bytes at {@code offset} of LUN 0 of {@code target} as the target's
         *         store holds them, or empty when the store cannot be seen from the test (SPDK's malloc bdevs)
         */
        Optional<byte[]> storedBytes(int target, long offset, int length) throws Exception;

        /** @return whether {@link #addTarget} and {@link #removeTarget} work while an initiator is attached */
        boolean canHotplug();

        /** Adds target {@code target} with one LUN of {@code blocks} blocks of {@code blockSize} bytes. */
        void addTarget(int target, int blockSize, long blocks) throws Exception;

        /** Removes target {@code target} (hot-unplug of its LUN). */
        void removeTarget(int target) throws Exception;

        @Override
        void close();
    }

    /**
     * Starts a target in the standard layout.
     *
     * @param dir a directory for sockets and images
     */
    protected abstract StartedScsiTarget startTarget(Path dir) throws Exception;

    /** @return the initiator options: a request queue per I/O thread, 128-entry rings, 64 MiB of memory */
    protected VirtioScsiOptions initiatorOptions() {
        return VirtioScsiOptions.defaults().withRequestQueues(THREADS).withQueueSize(128).withMemoryBytes(64L << 20)
                .withHugePages(HugePagePolicy.NEVER).withCommandTimeout(Duration.ofSeconds(10));
    }

    private StartedScsiTarget target;
    private VirtioScsiController ctrl;
    private int attaches;
    private final List<String> added = new CopyOnWriteArrayList<>();
    private final List<String> removed = new CopyOnWriteArrayList<>();

    @BeforeAll
    void startStandard(@TempDir Path d) throws Exception {
        target = startTarget(d);
        attach();
    }

    @AfterAll
    void stopStandard() {
        if (ctrl != null) {
            ctrl.close();
        }
        if (target != null) {
            target.close();
        }
    }

    private void attach() {
        ctrl = VirtioScsiController.connectVhostUser("suite" + attaches++, target.socketPath(), initiatorOptions());
        ctrl.addListener(new BdevListener() {
            @Override
            public void bdevAdded(Bdev bdev) {
                added.add(bdev.name());
            }

            @Override
            public void bdevRemoved(Bdev bdev) {
                removed.add(bdev.name());
            }
        });
    }

    /** @return the ring format the target and {@link #initiatorOptions} lead to (every suite says which) */
    protected abstract RingType expectedRing();

    @Test
    void theRingIsTheOneExpected() {
        boolean packed = ctrl.device().hasFeature(VirtioFeatures.VIRTIO_F_RING_PACKED);
        org.junit.jupiter.api.Assertions.assertEquals(expectedRing(), packed ? RingType.PACKED : RingType.SPLIT,
                "negotiated features 0x" + Long.toHexString(ctrl.device().negotiatedFeatures()));
    }

    private VirtioScsiDisk disk(int t) {
        return ctrl.disk(t, 0).orElseThrow(() -> new AssertionError(ctrl.name() + " has no disk for target " + t + ": " + ctrl.bdevs()));
    }

    private List<VirtioScsiDisk> standardDisks() {
        return List.of(disk(0), disk(1));
    }

    @Test
    void attachFindsExactlyTheTwoDisks() {
        List<VirtioScsiDisk> disks = ctrl.bdevs();
        assertEquals(2, disks.size(), "LUN bdevs of the standard layout: " + disks);
        int[] bs = {512, 4096};
        for (int t = 0; t < 2; t++) {
            VirtioScsiDisk d = disk(t);
            assertEquals(VirtioScsiDisk.bdevName(ctrl.name(), t, 0), d.name());
            assertEquals(bs[t], d.blockSize(), d.name() + " block size");
            assertEquals(DISK_BYTES / bs[t], d.blockCount(), d.name() + " block count");
            assertFalse(d.readOnly(), d.name() + " is writable");
            for (IoType op : new IoType[] {IoType.READ, IoType.WRITE, IoType.FLUSH}) {
                assertTrue(d.supports(op), d.name() + " supports " + op);
            }
        }
        assertTrue(ctrl.targetCount() > HOTPLUG_TARGET, "targets scanned: " + ctrl.targetCount());
    }

    @Test
    void patternsAtManySizesAndOffsetsReadBackAndLandInTheStore() throws Exception {
        int[] sizes = {512, 1024, 4096, 8192, 65536, 131072, 512 * 1024, 1 << 20};
        SplittableRandom r = new SplittableRandom(7);
        for (VirtioScsiDisk d : standardDisks()) {
            long capacity = d.blockCount() * d.blockSize();
            try (VirtioScsiChannel ch = d.openChannel()) {
                SyncIo io = new SyncIo(ch);
                for (int size : sizes) {
                    if (size % d.blockSize() != 0) {
                        continue;
                    }
                    List<Long> offsets = new ArrayList<>(List.of(0L, capacity - size));
                    for (int i = 0; i < 3; i++) {
                        offsets.add(r.nextLong((capacity - size) / d.blockSize() + 1) * d.blockSize());
                    }
                    for (long off : offsets) {
                        byte[] w = writeReadBack(d, io, off, size, off * 31 + size);
                        assertStored(d.target(), w, off, d.name() + ": " + size + " B at " + off);
                    }
                }
            }
        }
    }

    @Test
    void vectoredIoWithManyIovecs() throws Exception {
        for (VirtioScsiDisk d : standardDisks()) {
            // 300 iovecs of 4 KiB: more than one indirect table and than seg_max, so several commands
            int[] many = new int[300];
            Arrays.fill(many, 4096);
            // iovecs that are not block multiples: SCSI counts blocks of the whole transfer only
            int[] uneven = {1024, 3072, 6144, 2048, 512, 3584, 16384};
            for (int[] lens : List.of(many, uneven)) {
                long off = (8L << 20) + 7L * d.blockSize();
                byte[] w = writevReadBack(d, lens, off, lens.length + d.blockSize());
                assertStored(d.target(), w, off, d.name() + ": writev of " + lens.length + " iovecs");
            }
        }
    }

    @Test
    void flushAfterWritesLeavesTheDataInTheStore() throws Exception {
        for (VirtioScsiDisk d : standardDisks()) {
            try (VirtioScsiChannel ch = d.openChannel()) {
                SyncIo io = new SyncIo(ch);
                byte[] w = writeReadBack(d, io, 20L << 20, 256 * 1024, 99 + d.target());
                io.flush();
                assertStored(d.target(), w, 20L << 20, d.name() + " after SYNCHRONIZE CACHE");
            }
        }
    }

    @Test
    void unmapLeavesItsNeighboursAndReadsZeroWhenTheLunSaysSo() throws Exception {
        for (VirtioScsiDisk d : standardDisks()) {
            assumeTrue(d.supports(IoType.UNMAP), d.name() + ": the target does not offer UNMAP (VPD 0xB2 LBPU not set)");
            long off = 30L << 20;
            int len = 1 << 20;
            try (VirtioScsiChannel ch = d.openChannel()) {
                SyncIo io = new SyncIo(ch);
                byte[] w = writeReadBack(d, io, off, len, 5 + d.target());
                io.unmap(off + 64 * 1024, 256 * 1024);
                io.flush();
                byte[] back = read(d, io, off, len);
                byte[] zeroed = w.clone();
                Arrays.fill(zeroed, 64 * 1024, 320 * 1024, (byte) 0);
                assertSameBytes(Arrays.copyOf(w, 64 * 1024), Arrays.copyOf(back, 64 * 1024), d.name() + ": before the unmapped range");
                assertSameBytes(Arrays.copyOfRange(w, 320 * 1024, len), Arrays.copyOfRange(back, 320 * 1024, len), d.name() + ": after it");
                if (d.info().lbprz()) {
                    assertSameBytes(zeroed, back, d.name() + ": unmapped blocks read as zeros (LBPRZ)");
                    assertStored(d.target(), zeroed, off, d.name() + ": unmapped range in the store");
                } else {
                    LOG.info("{}: LBPRZ not set: what unmapped blocks read is not checked", d.name());
                }
            }
        }
    }

    @Test
    void writeZeroesReadsBackZerosAndLeavesItsNeighbours() throws Exception {
        for (VirtioScsiDisk d : standardDisks()) {
            assumeTrue(d.supports(IoType.WRITE_ZEROES), d.name()
                    + ": the target does not offer WRITE SAME (16) (VPD 0xB2 LBPWS not set), the driver's write-zeroes");
            long off = 34L << 20;
            int len = 1 << 20;
            try (VirtioScsiChannel ch = d.openChannel()) {
                SyncIo io = new SyncIo(ch);
                byte[] w = writeReadBack(d, io, off, len, 11 + d.target());
                io.writeZeroes(off + 8192, 512 * 1024);
                io.flush();
                byte[] expected = w.clone();
                Arrays.fill(expected, 8192, 8192 + 512 * 1024, (byte) 0);
                assertSameBytes(expected, read(d, io, off, len), d.name() + ": write-zeroes range reads zeros, its neighbours as written");
                assertStored(d.target(), expected, off, d.name() + ": write-zeroes in the store");
            }
        }
    }

    @Test
    void severalChannelsFromSeveralThreadsOnBothDisks() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        List<Future<List<Written>>> futures = new ArrayList<>();
        try {
            for (int t = 0; t < THREADS; t++) {
                int id = t;
                futures.add(pool.submit(() -> randomWritesAtDepth(standardDisks(), id, THREADS, 40L << 20, 64, 8)));
            }
            List<Written> all = new ArrayList<>();
            for (Future<List<Written>> f : futures) {
                all.addAll(f.get(120, TimeUnit.SECONDS));
            }
            for (Written w : all) {
                assertStored(w.target(), w.data(), w.offset(), "target " + w.target() + " at " + w.offset() + " in the store");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void detachAndReattachSeesTheDataStillThere() throws Exception {
        List<byte[]> written = new ArrayList<>();
        long off = 48L << 20;
        for (VirtioScsiDisk d : standardDisks()) {
            try (VirtioScsiChannel ch = d.openChannel()) {
                SyncIo io = new SyncIo(ch);
                written.add(writeReadBack(d, io, off, 128 * 1024, 31337 + d.target()));
                io.flush();
            }
        }
        String before = ctrl.name();
        ctrl.close();
        ctrl = null;
        attach();
        assertNotEquals(before, ctrl.name());
        assertEquals(2, ctrl.bdevs().size(), "re-attach finds the same disks: " + ctrl.bdevs());
        for (VirtioScsiDisk d : standardDisks()) {
            try (VirtioScsiChannel ch = d.openChannel()) {
                assertSameBytes(written.get(d.target()), read(d, new SyncIo(ch), off, 128 * 1024), d.name() + " after re-attach");
            }
        }
    }

    @Test
    void outOfRangeIoIsRefusedWithAClearError() {
        for (VirtioScsiDisk d : standardDisks()) {
            long capacity = d.blockCount() * d.blockSize();
            MemorySegment buf = d.allocateBuffer(2L * d.blockSize(), 4096);
            try (VirtioScsiChannel ch = d.openChannel()) {
                SyncIo io = new SyncIo(ch);
                BdevIoException past = assertThrows(BdevIoException.class, () -> io.read(buf, capacity - d.blockSize()));
                assertEquals(BdevIoException.Reason.INVALID_ARGUMENT, past.reason());
                assertTrue(past.getMessage().contains(d.name()) && past.getMessage().contains("capacity"), past.getMessage());
                BdevIoException at = assertThrows(BdevIoException.class, () -> io.write(buf, capacity));
                assertTrue(at.getMessage().contains("capacity"), at.getMessage());
                if (d.blockSize() > 512) {
                    BdevIoException mis = assertThrows(BdevIoException.class, () -> io.read(buf, 512));
                    assertTrue(mis.getMessage().contains(d.name()), mis.getMessage());
                }
                assertEquals(0, ch.inFlight(), "nothing reached the device");
                io.read(buf.asSlice(0, d.blockSize()), capacity - d.blockSize()); // the last block itself is fine
            } finally {
                d.freeBuffer(buf);
            }
        }
    }

    @Test
    void hotPlugAddsAWorkingDiskAndHotUnplugFailsItsIoClearly() throws Exception {
        assumeTrue(target.canHotplug(), "the target cannot add or remove targets while an initiator is attached");
        added.clear();
        removed.clear();
        String name = VirtioScsiDisk.bdevName(ctrl.name(), HOTPLUG_TARGET, 0);
        boolean plugged = false;
        try (BackgroundWriter w = new BackgroundWriter(disk(0), 56L << 20)) {
            w.awaitRounds(5);
            target.addTarget(HOTPLUG_TARGET, 512, HOTPLUG_BYTES / 512);
            plugged = true;
            awaitEvent("the listener hearing of " + name, () -> { }, () -> added.contains(name));
            VirtioScsiDisk d = disk(HOTPLUG_TARGET);
            assertEquals(512, d.blockSize());
            assertEquals(HOTPLUG_BYTES / 512, d.blockCount(), name + " block count");
            try (VirtioScsiChannel ch = d.openChannel()) {
                SyncIo io = new SyncIo(ch);
                for (long off : new long[] {0, 4096 + 512, HOTPLUG_BYTES - 65536}) {
                    byte[] data = writeReadBack(d, io, off, 65536, off + 2);
                    io.flush();
                    assertStored(HOTPLUG_TARGET, data, off, name + " at " + off);
                }
                IoAcrossRemoval r = ioAcrossRemoval(ctrl, d, ch, () -> target.removeTarget(HOTPLUG_TARGET), () -> removed.contains(name));
                plugged = false;
                LOG.info("{}: I/O across the removal: {} completed, {} failed in flight, first error: {}", name, r.succeeded(),
                        r.failed().size(), r.failed().isEmpty() ? "none" : r.failed().get(0).getMessage());
                for (Exception e : r.failed()) {
                    assertInstanceOf(BdevIoException.class, e, "in-flight I/O of a removed LUN fails as a bdev error");
                    assertTrue(e.getMessage().contains(name), "the error names the disk: " + e.getMessage());
                }
                assertTrue(d.isRemoved());
                assertFalse(ctrl.disk(HOTPLUG_TARGET, 0).isPresent(), "the controller no longer lists " + name);
                assertEquals(List.of(name), removed, "the listener heard of the removal once");
                MemorySegment b = d.allocateBuffer(4096, 4096);
                BdevIoException after = assertThrows(BdevIoException.class, () -> io.read(b, 0));
                assertEquals(BdevIoException.Reason.CLOSED, after.reason());
                assertTrue(after.getMessage().contains(name) && after.getMessage().contains("removed"), after.getMessage());
                assertThrows(BdevIoException.class, d::openChannel, "no new channel on a removed disk");
                d.freeBuffer(b);
            }
            w.awaitRounds(w.rounds() + 5); // target 0 kept working through it all
        } finally {
            if (plugged) { // a failed case leaves the standard layout for the others
                target.removeTarget(HOTPLUG_TARGET);
                awaitEvent("the removal of " + name + " after a failure", () -> { }, () -> ctrl.disk(HOTPLUG_TARGET, 0).isEmpty());
            }
        }
        try (VirtioScsiChannel ch = disk(0).openChannel()) {
            writeReadBack(disk(0), new SyncIo(ch), 60L << 20, 65536, 4242);
        }
    }

    private void awaitEvent(String what, Runnable poll, BooleanSupplier done) {
        long deadline = System.nanoTime() + EVENT_DEADLINE.toNanos();
        while (!done.getAsBoolean()) {
            poll.run();
            ctrl.pollEvents();
            assertTrue(System.nanoTime() < deadline, "timed out after " + EVENT_DEADLINE + " waiting for " + what);
            Thread.onSpinWait();
        }
    }

    /** Checks LUN 0 of {@code t} holds {@code expected} at {@code offset} in the target's store, when it is visible. */
    protected void assertStored(int t, byte[] expected, long offset, String what) throws Exception {
        Optional<byte[]> stored = target.storedBytes(t, offset, expected.length);
        if (stored.isPresent()) {
            assertSameBytes(expected, stored.get(), what + " (target's store)");
        }
    }
}
