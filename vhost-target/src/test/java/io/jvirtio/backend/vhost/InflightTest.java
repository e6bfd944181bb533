package io.jvirtio.backend.vhost;

import io.jvirtio.spec.vhostuser.VhostUserInflight;

import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.fault.ReplyFault;
import io.jvirtio.backend.ring.InflightQueue;
import io.jvirtio.backend.ring.PackedInflightQueue;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.vhostuser.VhostUserU64;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.backend.testing.BlkReq;
import io.jvirtio.backend.testing.DriverRing;
import io.jvirtio.backend.testing.FrontEndMemory;
import io.jvirtio.backend.testing.Handshake;
import io.jvirtio.backend.testing.ScriptedFrontEnd;
import io.jvirtio.spec.blk.VirtioBlkSpec;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import io.jvirtio.sys.LinuxConstants;
import io.jvirtio.sys.Native;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;

import static io.jvirtio.core.testing.BlkPatterns.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * INFLIGHT_SHMFD: the back-end hands out a memfd in QEMU's split-ring format, marks what it pops,
 * clears what it completes, and after a reconnection resubmits what was left in flight.
 */
class InflightTest {
    private static final int QSIZE = 64;

    @Test
    void getInflightFdHandsOutAQemuFormatArea(@TempDir Path d) throws Exception {
        try (VhostUserTarget t = target(d);
             ScriptedFrontEnd fe = ScriptedFrontEnd.connect(t.socketPath())) {
            Handshake.open(fe);
            ScriptedFrontEnd.Reply r = fe.call(VhostUserRequest.GET_INFLIGHT_FD, new VhostUserInflight(0, 0, 2, QSIZE));
            VhostUserInflight got = VhostUserInflight.decode(r.buf());
            assertEquals(1, r.fds().length, "one fd");
            assertEquals(2 * InflightQueue.bytesPerQueue(QSIZE), got.mmapSize());
            assertEquals(2 * 1088, got.mmapSize(), "QEMU's size for 2 queues of 64: align(16*64+16, 64) each");
            assertEquals(0, got.mmapOffset());
            assertEquals(2, got.numQueues());
            assertEquals(QSIZE, got.queueSize());
        }
    }

    /** QEMU sends SET_FEATURES before GET_INFLIGHT_FD so the back-end knows the ring format (vhost_dev_prepare_inflight). */
    @Test
    void withPackedRingsTheAreaIsInThePackedFormat(@TempDir Path d) throws Exception {
        try (VhostUserTarget t = target(d);
             ScriptedFrontEnd fe = ScriptedFrontEnd.connect(t.socketPath())) {
            Handshake.Negotiated n = Handshake.open(fe);
            fe.command(VhostUserRequest.SET_FEATURES, new VhostUserU64(n.features() | VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_RING_PACKED)));
            ScriptedFrontEnd.Reply r = fe.call(VhostUserRequest.GET_INFLIGHT_FD, new VhostUserInflight(0, 0, 2, QSIZE));
            VhostUserInflight got = VhostUserInflight.decode(r.buf());
            assertEquals(1, r.fds().length, "one fd");
            assertEquals(2 * PackedInflightQueue.bytesPerQueue(QSIZE), got.mmapSize());
            assertEquals(2 * 2112, got.mmapSize(), "DPDK's size for 2 packed queues of 64: align(32*64+29, 64) each");
        }
    }

    /**
     * QEMU 7.2's vhost-user-scsi gets its area while SeaBIOS drives split rings and hands the same one
     * over when Linux negotiates packed rings: the area is read in the format of the rings that start
     * on it, and one too small for the packed format leaves packed queues untracked.
     */
    @Test
    void anAreaIsReadInTheFormatOfTheRingsThatStartOnIt() {
        try (InflightArea split = InflightArea.create("fmt", 2, QSIZE, false);
             InflightArea packed = InflightArea.create("fmt", 2, QSIZE, true)) {
            assertEquals(2 * 1088, split.size());
            assertTrue(split.fits(false));
            assertFalse(split.fits(true), "a split-sized area does not hold two packed regions");
            assertTrue(packed.fits(true));
            assertTrue(packed.fits(false));
            assertNotNull(packed.packedQueue(1));
            assertNull(packed.packedQueue(2), "no third queue");
        }
    }

    @Test
    void aMissingFdIsAnInjectableBadReply(@TempDir Path d) throws Exception {
        try (VhostUserTarget t = target(d);
             ScriptedFrontEnd fe = ScriptedFrontEnd.connect(t.socketPath())) {
            Handshake.open(fe);
            t.faults().badReply(VhostUserRequest.GET_INFLIGHT_FD, ReplyFault.MISSING_FD);
            ScriptedFrontEnd.Reply r = fe.call(VhostUserRequest.GET_INFLIGHT_FD, new VhostUserInflight(0, 0, 1, QSIZE));
            assertEquals(0, r.fds().length, "the reply lacks its fd");
        }
    }

    @Test
    void requestsInFlightWhenTheConnectionDiesAreResubmittedOnTheNext(@TempDir Path d) throws Exception {
        RamBlockStore store = new RamBlockStore(4 << 20, false);
        try (VhostUserTarget t = VhostUserTarget.builder().name("infl").socket(d.resolve("i.sock"))
                .blk(store, BlkModelOptions.builder().numQueues(2).build()).start();
             FrontEndMemory mem = new FrontEndMemory("infl-fe", 4 << 20)) {
            DriverRing ring = new DriverRing(mem.domain(), 0, QSIZE);
            int area;
            BlkReq w = BlkReq.of(mem.domain(), VirtioBlkSpec.VIRTIO_BLK_T_OUT, 32, 4096);
            fill(w.data, 7);
            int head;
            try (ScriptedFrontEnd fe = ScriptedFrontEnd.connect(t.socketPath())) {
                Handshake.open(fe);
                ScriptedFrontEnd.Reply r = fe.call(VhostUserRequest.GET_INFLIGHT_FD, new VhostUserInflight(0, 0, 2, QSIZE));
                area = Native.dup(r.fds()[0]); // the front-end keeps the area across back-end restarts
                VhostUserInflight desc = VhostUserInflight.decode(r.buf());
                fe.command(VhostUserRequest.SET_INFLIGHT_FD, desc, area);
                mem.share(fe);
                ring.start(fe, 0, true);
                t.faults().delayCompletions(Duration.ofSeconds(30)); // popped, executed, never published
                head = ring.submit(false, w.bufs());
                MemorySegment log = map(area, desc.mmapSize());
                long deadline = System.nanoTime() + 5_000_000_000L;
                while (log.get(ValueLayout.JAVA_BYTE, InflightQueue.HEADER_SIZE + (long) head * InflightQueue.DESC_STATE_SIZE) != 1) {
                    assertTrue(System.nanoTime() < deadline, "head marked in flight in the area");
                    Thread.sleep(5);
                }
                assertNull(ring.pollUsed(Duration.ofMillis(100)));
            }
            assertTrue(t.awaitIdle(1, Duration.ofSeconds(5)));
            t.faults().clear();
            store.contents().asSlice(32 * 512, 4096).fill((byte) 0); // as if the first execution was lost
            try (ScriptedFrontEnd fe = ScriptedFrontEnd.connect(t.socketPath())) {
                Handshake.open(fe);
                fe.command(VhostUserRequest.SET_INFLIGHT_FD, new VhostUserInflight(2 * InflightQueue.bytesPerQueue(QSIZE), 0, 2, QSIZE), area);
                mem.share(fe);
                ring.start(fe, 0, true);
                DriverRing.Used u = ring.awaitUsed();
                assertEquals(head, u.id(), "the in-flight head is resubmitted and completed");
                assertEquals(VirtioBlkSpec.VIRTIO_BLK_S_OK, w.status());
                assertSameBytes(bytes(w.data), bytes(store.contents().asSlice(32 * 512, 4096)), "the resubmitted write landed");
                MemorySegment log = map(area, 2 * InflightQueue.bytesPerQueue(QSIZE));
                assertEquals(0, log.get(ValueLayout.JAVA_BYTE, InflightQueue.HEADER_SIZE + (long) head * InflightQueue.DESC_STATE_SIZE));
            } finally {
                Native.closeQuietly(area);
                ring.close();
            }
        }
    }

    private static MemorySegment map(int fd, long size) {
        long a = Native.mmap(0, size, LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE, LinuxConstants.MAP_SHARED, fd, 0);
        return Native.segmentAt(a, size);
    }

    private static VhostUserTarget target(Path d) {
        return VhostUserTarget.builder().name("infl").socket(d.resolve("i.sock"))
                .blk(new RamBlockStore(1 << 20, false), BlkModelOptions.builder().numQueues(2).build()).start();
    }
}
