package io.jvirtio.conformance.scale;

import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.scsi.ScsiLun;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import io.jvirtio.backend.scsi.VirtioScsiModel;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.bdev.IoChannel;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.VirtioDevice;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.vhostuser.VhostUserFrontend;
import io.jvirtio.scsi.VirtioScsiController;
import io.jvirtio.scsi.VirtioScsiOptions;
import io.jvirtio.spec.vhostuser.VhostUserProtocolFeature;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The scale check: 64 controllers with 256 LUNs in one process against Java targets in the same
 * process, one socket each (32 virtio-blk devices, 32 virtio-scsi controllers of 7 LUNs). Every
 * controller is attached, gets a buffer that does not fit its first memory region (a second region,
 * shared while attached: ADD_MEM_REG, as the Java target offers CONFIGURE_MEM_SLOTS), and every LUN
 * gets one 4 KiB write from that buffer and a read back, compared byte for byte with what was written
 * and with the target's store. Then everything is detached and the process's fds must return to what
 * they were before. The figures (attach time, resident memory, regions, memory-table slots, fds by
 * kind) are printed; docs/benchmarks.md quotes them.
 */
class ScaleTest {
    private static final int BLK_CONTROLLERS = 32;
    private static final int SCSI_CONTROLLERS = 32;
    private static final int LUNS_PER_SCSI = 7;
    private static final int LUNS = BLK_CONTROLLERS + SCSI_CONTROLLERS * LUNS_PER_SCSI;
    private static final long LUN_BYTES = 256 << 10;
    private static final int IO_BYTES = 4096;
    private static final int BLOCK_SIZE = 512;
    /** Each controller's first region: the smallest there is (2 MiB); rings and headers fit. */
    private static final long MEMORY_BYTES = 2L << 20;
    /** The I/O buffer: larger than what is left of the first region, so it comes in a second. */
    private static final long BUFFER_BYTES = 2L << 20;
    private static final int QUEUE_SIZE = 64;
    private static final Duration SETTLE = Duration.ofSeconds(15);

    @TempDir
    Path dir;

    private record Blk(VhostUserTarget target, RamBlockStore store) {
    }

    private record Scsi(VhostUserTarget target, List<RamBlockStore> stores) {
    }

    @Test
    void sixtyFourControllersWith256LunsAttachVerifyAndDetachLeavingNoFds() throws Exception {
        assertEquals(256, LUNS);
        warmUp(); // junixsocket's library and the JDK's lazily opened files are in the baseline then
        Map<String, Integer> fdsBefore = ProcessFigures.fds();

        List<Blk> blkTargets = new ArrayList<>();
        List<Scsi> scsiTargets = new ArrayList<>();
        List<VirtioBlkDevice> blks = new ArrayList<>();
        List<VirtioScsiController> scsis = new ArrayList<>();
        try {
            for (int i = 0; i < BLK_CONTROLLERS; i++) {
                blkTargets.add(startBlk("blk" + i));
            }
            for (int i = 0; i < SCSI_CONTROLLERS; i++) {
                scsiTargets.add(startScsi("scsi" + i));
            }
            Map<String, Integer> fdsTargets = ProcessFigures.fds();
            Map<String, Long> rssTargets = ProcessFigures.status();

            long attachStart = System.nanoTime();
            long slowest = 0;
            for (Blk t : blkTargets) {
                long t0 = System.nanoTime();
                blks.add(VirtioBlkDevice.connectVhostUser(t.target.name(), t.target.socketPath(), blkOptions()));
                slowest = Math.max(slowest, System.nanoTime() - t0);
            }
            for (Scsi t : scsiTargets) {
                long t0 = System.nanoTime();
                VirtioScsiController c = VirtioScsiController.connectVhostUser(t.target.name(), t.target.socketPath(), scsiOptions());
                scsis.add(c);
                slowest = Math.max(slowest, System.nanoTime() - t0);
                for (int l = 0; l < LUNS_PER_SCSI; l++) {
                    assertTrue(c.disk(0, l).isPresent(), c.name() + ": LUN " + l + " not found by the scan");
                }
            }
            long attachNanos = System.nanoTime() - attachStart;
            Map<String, Integer> fdsAttached = ProcessFigures.fds();
            Map<String, Long> rssAttached = ProcessFigures.status();
            int regionsAttached = regions(blks, scsis);

            // a second region per controller, shared while it runs
            List<MemorySegment> blkBuffers = new ArrayList<>();
            List<MemorySegment> scsiBuffers = new ArrayList<>();
            for (VirtioBlkDevice b : blks) {
                blkBuffers.add(b.allocateBuffer(BUFFER_BYTES, IO_BYTES));
                checkSlots(b.device(), 2);
            }
            for (VirtioScsiController c : scsis) {
                scsiBuffers.add(c.memory().allocate(BUFFER_BYTES, IO_BYTES));
                checkSlots(c.device(), 2);
            }

            int verified = 0;
            for (int i = 0; i < blks.size(); i++) {
                try (IoChannel ch = blks.get(i).openChannel()) {
                    verifyOne(ch, blkBuffers.get(i), verified, blkTargets.get(i).store, blks.get(i).name());
                }
                verified++;
            }
            for (int i = 0; i < scsis.size(); i++) {
                for (int l = 0; l < LUNS_PER_SCSI; l++) {
                    try (IoChannel ch = scsis.get(i).disk(0, l).orElseThrow().openChannel()) {
                        verifyOne(ch, scsiBuffers.get(i).asSlice(2L * l * IO_BYTES, 2L * IO_BYTES), verified,
                                scsiTargets.get(i).stores.get(l), scsis.get(i).name() + " LUN " + l);
                    }
                    verified++;
                }
            }
            assertEquals(LUNS, verified);
            Map<String, Integer> fdsIo = ProcessFigures.fds();
            Map<String, Long> rssIo = ProcessFigures.status();
            int[] memfdMaps = ProcessFigures.memfdMappings();
            int regionsIo = regions(blks, scsis);
            VhostUserFrontend fe = (VhostUserFrontend) blks.getFirst().device().backend();

            long detachStart = System.nanoTime();
            closeAll(blks, scsis);
            long detachNanos = System.nanoTime() - detachStart;
            awaitFds("the targets' sessions closed after the detach", fdsTargets);

            System.out.printf("scale: %d controllers (%d blk, %d scsi x %d LUNs), %d LUNs, one Java target socket each, in one process%n",
                    BLK_CONTROLLERS + SCSI_CONTROLLERS, BLK_CONTROLLERS, SCSI_CONTROLLERS, LUNS_PER_SCSI, LUNS);
            System.out.printf("attach: %d ms for all (%.1f ms per controller, slowest %.1f ms, scsi ones include the scan); detach: %d ms%n",
                    attachNanos / 1_000_000, attachNanos / 1e6 / (BLK_CONTROLLERS + SCSI_CONTROLLERS), slowest / 1e6, detachNanos / 1_000_000);
            System.out.printf("resident memory (KiB) and threads: targets started %s; attached %s; after the added regions and I/O %s%n",
                    rssTargets, rssAttached, rssIo);
            System.out.printf("shared-memory regions (front-end): %d attached, %d after one buffer each (%d memfd mappings of %d memfds "
                    + "in the process: front-end and in-process target both map each)%n", regionsAttached, regionsIo, memfdMaps[0], memfdMaps[1]);
            System.out.printf("memory-table slots: 2 of %d per controller (CONFIGURE_MEM_SLOTS %s; the second by ADD_MEM_REG)%n",
                    fe.maxMemSlots(), fe.hasProtocolFeature(VhostUserProtocolFeature.CONFIGURE_MEM_SLOTS) ? "negotiated" : "not negotiated");
            System.out.printf("fds (front-end and target sides): before %s; targets listening %s; attached %s; after I/O %s; after detach back to %s%n",
                    fdsBefore, fdsTargets, fdsAttached, fdsIo, ProcessFigures.fds());
        } finally {
            closeAll(blks, scsis);
            for (Blk t : blkTargets) {
                t.target.close(); // closes its store too
            }
            for (Scsi t : scsiTargets) {
                t.target.close();
                t.stores.forEach(RamBlockStore::close);
            }
        }
        // junixsocket 2.11.1 leaks an fd when an AFUNIXServerSocket is closed while a thread is blocked in its
        // accept(); the Java target wakes its accept thread first (VhostUserTarget.wakeAccept), so closing the
        // 64 targets gives every fd back too.
        awaitFds("the 64 targets closed", fdsBefore);
        System.out.printf("after closing the %d targets: fds back to %s%n", BLK_CONTROLLERS + SCSI_CONTROLLERS, ProcessFigures.fds());
    }

    private static void checkSlots(VirtioDevice d, int expected) {
        VhostUserFrontend fe = (VhostUserFrontend) d.backend();
        assertTrue(fe.hasProtocolFeature(VhostUserProtocolFeature.CONFIGURE_MEM_SLOTS), d.name() + ": CONFIGURE_MEM_SLOTS not negotiated");
        assertEquals(expected, d.memory().regions().size(), d.name() + ": memory regions");
        assertTrue(expected <= fe.maxMemSlots(), d.name() + ": " + expected + " regions, " + fe.maxMemSlots() + " slots");
    }

    /** Writes a pattern unique to {@code lun} from the buffer's first 4 KiB, reads it back into the second; compares both ways. */
    private static void verifyOne(IoChannel ch, MemorySegment buffer, int lun, RamBlockStore store, String what) {
        MemorySegment out = buffer.asSlice(0, IO_BYTES);
        MemorySegment in = buffer.asSlice(IO_BYTES, IO_BYTES);
        for (int i = 0; i < IO_BYTES; i += Integer.BYTES) {
            out.set(ValueLayout.JAVA_INT_UNALIGNED, i, lun * 0x01000193 ^ i);
        }
        in.fill((byte) 0);
        long offset = (lun % (LUN_BYTES / IO_BYTES)) * IO_BYTES;
        SyncIo io = new SyncIo(ch);
        io.write(out, offset);
        io.read(in, offset);
        long m = out.mismatch(in);
        if (m >= 0) {
            fail(what + ": read back differs from what was written at byte " + m);
        }
        m = out.mismatch(store.contents().asSlice(offset, IO_BYTES));
        if (m >= 0) {
            fail(what + ": the target's store differs from what was written at byte " + m);
        }
    }

    private static int regions(List<VirtioBlkDevice> blks, List<VirtioScsiController> scsis) {
        int n = 0;
        for (VirtioBlkDevice b : blks) {
            n += b.device().memory().regions().size();
        }
        for (VirtioScsiController c : scsis) {
            n += c.memory().regions().size();
        }
        return n;
    }

    private static void closeAll(List<VirtioBlkDevice> blks, List<VirtioScsiController> scsis) {
        blks.forEach(VirtioBlkDevice::close);
        scsis.forEach(VirtioScsiController::close);
        blks.clear();
        scsis.clear();
    }

    private Blk startBlk(String name) {
        RamBlockStore store = new RamBlockStore(LUN_BYTES, false);
        VhostUserTarget t = VhostUserTarget.builder().name(name).socket(dir.resolve(name + ".sock"))
                .blk(store, BlkModelOptions.builder().blockSize(BLOCK_SIZE).build()).start();
        return new Blk(t, store);
    }

    private Scsi startScsi(String name) {
        VirtioScsiModel model = new VirtioScsiModel(ScsiModelOptions.builder().name(name).requestQueues(1).build());
        List<RamBlockStore> stores = new ArrayList<>();
        for (int l = 0; l < LUNS_PER_SCSI; l++) {
            RamBlockStore s = new RamBlockStore(LUN_BYTES, false);
            stores.add(s);
            model.addLun(0, l, ScsiLun.builder(s).blockSize(BLOCK_SIZE).build());
        }
        VhostUserTarget t = VhostUserTarget.builder().name(name).socket(dir.resolve(name + ".sock")).model(model).start();
        return new Scsi(t, stores);
    }

    private static VirtioBlkOptions blkOptions() {
        return VirtioBlkOptions.defaults().withHugePages(HugePagePolicy.NEVER).withMemoryBytes(MEMORY_BYTES).withQueueSize(QUEUE_SIZE);
    }

    private static VirtioScsiOptions scsiOptions() {
        return VirtioScsiOptions.defaults().withHugePages(HugePagePolicy.NEVER).withMemoryBytes(MEMORY_BYTES).withQueueSize(QUEUE_SIZE)
                .withScanTargets(1).withCommandTimeout(Duration.ofSeconds(10));
    }

    /** One blk and one scsi attach, I/O and detach, so whatever is opened once per process is open before the baseline. */
    private void warmUp() throws Exception {
        Blk b = startBlk("warm-blk");
        Scsi s = startScsi("warm-scsi");
        try (VirtioBlkDevice d = VirtioBlkDevice.connectVhostUser("warm-blk", b.target.socketPath(), blkOptions());
             VirtioScsiController c = VirtioScsiController.connectVhostUser("warm-scsi", s.target.socketPath(), scsiOptions())) {
            try (IoChannel ch = d.openChannel()) {
                verifyOne(ch, d.allocateBuffer(2L * IO_BYTES, IO_BYTES), 0, b.store, "warm-up blk");
            }
            try (IoChannel ch = c.disk(0, 0).orElseThrow().openChannel()) {
                verifyOne(ch, c.memory().allocate(2L * IO_BYTES, IO_BYTES), 0, s.stores.getFirst(), "warm-up scsi");
            }
        } finally {
            b.target.close();
            s.target.close();
            s.stores.forEach(RamBlockStore::close);
        }
        Thread.sleep(200);
    }

    private static void awaitFds(String when, Map<String, Integer> expected) throws InterruptedException {
        long deadline = System.nanoTime() + SETTLE.toNanos();
        BooleanSupplier same = () -> ProcessFigures.fds().get("total").equals(expected.get("total"));
        while (!same.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                fail("fds after " + when + ": " + ProcessFigures.fds() + ", expected " + expected + "; sockets: " + ProcessFigures.unixSockets());
            }
            Thread.sleep(50);
        }
    }
}
