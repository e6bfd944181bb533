package io.jvirtio.backend.ring;

import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.backend.testing.BlkReq;
import io.jvirtio.backend.testing.DriverRing.Buf;
import io.jvirtio.backend.testing.DriverRing;
import io.jvirtio.backend.testing.FrontEndMemory;
import io.jvirtio.backend.testing.Handshake;
import io.jvirtio.backend.testing.ScriptedFrontEnd;
import io.jvirtio.core.mem.MemoryRegion;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.blk.VirtioBlkSpec;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import io.jvirtio.spec.vhostuser.VhostUserSingleMemoryRegion;
import io.jvirtio.spec.vhostuser.VhostUserVringFile;
import io.jvirtio.spec.vhostuser.VhostUserVringState;
import io.jvirtio.sys.LinuxConstants;
import io.jvirtio.sys.Native;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;

import static io.jvirtio.spec.ring.SplitRingLayout.*;
import static io.jvirtio.core.testing.BlkPatterns.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The device side of the split ring, driven by a hand-made driver ring: chains direct and indirect,
 * any framing, notification suppression both ways, stop and restart, and every driver error the
 * device must refuse.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RingTest {
    private static final long DISK = 8L << 20;
    private VhostUserTarget target;
    private RamBlockStore store;
    private FrontEndMemory mem;
    private ScriptedFrontEnd fe;
    private DriverRing ring;

    @BeforeAll
    void start(@TempDir Path d) {
        store = new RamBlockStore(DISK, false);
        target = VhostUserTarget.builder().name("ring").socket(d.resolve("ring.sock"))
                .blk(store, BlkModelOptions.builder().numQueues(2).segMax(8).build()).start();
    }

    @AfterAll
    void stop() {
        target.close();
    }

    @BeforeEach
    void fresh() throws Exception {
        assertTrue(target.awaitIdle(0, Duration.ofSeconds(5)));
        target.faults().clear();
        mem = new FrontEndMemory("ring-fe", 4 << 20);
        fe = ScriptedFrontEnd.connect(target.socketPath());
    }

    @AfterEach
    void close() throws Exception {
        fe.close();
        if (ring != null) {
            ring.close();
            ring = null;
        }
        assertTrue(target.awaitIdle(0, Duration.ofSeconds(5)));
        mem.close();
    }

    /** Handshake with {@code featureMask}, memory table, queue 0 of {@code size} started and enabled. */
    private DriverRing open(long featureMask, int size) throws Exception {
        Handshake.open(fe, -1L, featureMask);
        mem.share(fe);
        ring = new DriverRing(mem.domain(), 0, size);
        ring.start(fe, 0, true);
        return ring;
    }

    private DriverRing open() throws Exception {
        return open(-1L, 64);
    }

    private BlkReq req(int type, long sector, int bytes) {
        return BlkReq.of(mem.domain(), type, sector, bytes);
    }

    private void expectDriverError(String expected) throws Exception {
        assertTrue(fe.awaitClosed(Duration.ofSeconds(5)), "the device closes the connection");
        assertTrue(target.awaitIdle(0, Duration.ofSeconds(5)));
        String err = target.lastError();
        assertNotNull(err);
        assertTrue(err.contains(expected), "got <" + err + ">, expected <" + expected + ">");
    }

    @Test
    void writeThenReadDirectAndIndirect() throws Exception {
        open();
        for (boolean indirect : new boolean[] {false, true}) {
            BlkReq w = req(VirtioBlkSpec.VIRTIO_BLK_T_OUT, 16, 8192);
            fill(w.data, indirect ? 2 : 1);
            int head = ring.submit(indirect, w.bufs());
            DriverRing.Used u = ring.awaitUsed();
            assertEquals(head, u.id());
            assertEquals(1, u.len(), "OUT writes only the status byte");
            assertEquals(VirtioBlkSpec.VIRTIO_BLK_S_OK, w.status());
            assertSameBytes(bytes(w.data), store.contents().asSlice(16 * 512, 8192).toArray(ValueLayout.JAVA_BYTE), "store");

            BlkReq r = req(VirtioBlkSpec.VIRTIO_BLK_T_IN, 16, 8192);
            head = ring.submit(indirect, r.bufs());
            u = ring.awaitUsed();
            assertEquals(head, u.id());
            assertEquals(8192 + 1, u.len(), "IN writes data and status");
            assertEquals(VirtioBlkSpec.VIRTIO_BLK_S_OK, r.status());
            assertSameBytes(bytes(w.data), bytes(r.data), "read back");
        }
    }

    @Test
    void anyFramingOfHeaderDataAndStatus() throws Exception {
        open();
        // OUT: header and data in one buffer, split oddly in two
        MemorySegment out = mem.domain().allocate(16 + 4096, 16);
        BlkReq template = req(VirtioBlkSpec.VIRTIO_BLK_T_OUT, 64, 0);
        MemorySegment.copy(template.header, 0, out, 0, 16);
        fill(out.asSlice(16, 4096), 99);
        MemorySegment status = mem.domain().allocate(1, 1);
        ring.submit(false, Buf.out(out.asSlice(0, 100)), Buf.out(out.asSlice(100, 16 + 4096 - 100)), Buf.in(status));
        assertEquals(1, ring.awaitUsed().len());
        assertEquals(0, status.get(ValueLayout.JAVA_BYTE, 0));
        assertSameBytes(bytes(out.asSlice(16, 4096)), store.contents().asSlice(64 * 512, 4096).toArray(ValueLayout.JAVA_BYTE), "store");
        // IN: data and status in one writable buffer
        BlkReq in = req(VirtioBlkSpec.VIRTIO_BLK_T_IN, 64, 0);
        MemorySegment dataAndStatus = mem.domain().allocate(4096 + 1, 16);
        ring.submit(false, Buf.out(in.header), Buf.in(dataAndStatus));
        assertEquals(4097, ring.awaitUsed().len());
        assertEquals(0, dataAndStatus.get(ValueLayout.JAVA_BYTE, 4096));
        assertSameBytes(bytes(out.asSlice(16, 4096)), bytes(dataAndStatus.asSlice(0, 4096)), "read into a shared buffer");
    }

    @Test
    void statusBytesForErrors() throws Exception {
        open();
        BlkReq past = req(VirtioBlkSpec.VIRTIO_BLK_T_IN, DISK / 512 - 1, 1024);
        ring.submit(false, past.bufs());
        ring.awaitUsed();
        assertEquals(VirtioBlkSpec.VIRTIO_BLK_S_IOERR, past.status(), "read past the end");
        BlkReq unknown = req(42, 0, 0);
        ring.submit(false, unknown.bufs());
        ring.awaitUsed();
        assertEquals(VirtioBlkSpec.VIRTIO_BLK_S_UNSUPP, unknown.status(), "unknown type");
        BlkReq tooMany = req(VirtioBlkSpec.VIRTIO_BLK_T_IN, 0, 0);
        Buf[] bufs = new Buf[2 + 9];
        bufs[0] = Buf.out(tooMany.header);
        for (int i = 0; i < 9; i++) {
            bufs[1 + i] = Buf.in(mem.domain().allocate(512, 512));
        }
        bufs[10] = Buf.in(tooMany.status);
        ring.submit(true, bufs);
        ring.awaitUsed();
        assertEquals(VirtioBlkSpec.VIRTIO_BLK_S_IOERR, tooMany.status(), "9 data segments with seg_max 8");
        BlkReq discardUnmapFlag = req(VirtioBlkSpec.VIRTIO_BLK_T_DISCARD, 0, 16);
        discardUnmapFlag.dwz(0, 0, 8, VirtioBlkSpec.VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
        ring.submit(false, Buf.out(discardUnmapFlag.header), Buf.out(discardUnmapFlag.data), Buf.in(discardUnmapFlag.status));
        ring.awaitUsed();
        assertEquals(VirtioBlkSpec.VIRTIO_BLK_S_UNSUPP, discardUnmapFlag.status(), "discard with the UNMAP flag");
    }

    @Test
    void eventIdxSignalsOnlyWhenUsedEventIsCrossed() throws Exception {
        open();
        // the first completion after a start may always signal (the device does not know what was signalled before)
        ring.submit(false, req(VirtioBlkSpec.VIRTIO_BLK_T_FLUSH, 0, 0).bufs());
        ring.awaitUsed();
        Thread.sleep(20);
        ring.setUsedEvent(ring.usedIdx() + 100); // "do not interrupt me for a while"
        ring.takeCalls();
        for (int i = 0; i < 3; i++) {
            ring.submit(false, req(VirtioBlkSpec.VIRTIO_BLK_T_FLUSH, 0, 0).bufs());
            ring.awaitUsed();
        }
        assertEquals(0, ring.takeCalls(), "no interrupt before used_event is reached");
        assertEquals(ring.availIdx(), ring.availEvent(), "the device asks to be kicked for the next chain");
        ring.setUsedEvent(ring.usedIdx()); // interrupt me for the next one
        ring.submit(false, req(VirtioBlkSpec.VIRTIO_BLK_T_FLUSH, 0, 0).bufs());
        ring.awaitUsed();
        long deadline = System.nanoTime() + 2_000_000_000L;
        long calls = 0;
        while (calls == 0 && System.nanoTime() < deadline) {
            calls = ring.takeCalls();
        }
        assertTrue(calls > 0, "interrupt when used_event is crossed");
    }

    @Test
    void withoutEventIdxNoInterruptFlagIsHonoured() throws Exception {
        open(~VirtioFeatures.bit(VirtioFeatures.VIRTIO_RING_F_EVENT_IDX), 64);
        ring.takeCalls();
        ring.setAvailFlags(VRING_AVAIL_F_NO_INTERRUPT);
        ring.submit(false, req(VirtioBlkSpec.VIRTIO_BLK_T_FLUSH, 0, 0).bufs());
        ring.awaitUsed();
        assertEquals(0, ring.takeCalls(), "VRING_AVAIL_F_NO_INTERRUPT honoured");
        ring.setAvailFlags(0);
        ring.submit(false, req(VirtioBlkSpec.VIRTIO_BLK_T_FLUSH, 0, 0).bufs());
        ring.awaitUsed();
        long deadline = System.nanoTime() + 2_000_000_000L;
        long calls = 0;
        while (calls == 0 && System.nanoTime() < deadline) {
            calls = ring.takeCalls();
        }
        assertTrue(calls > 0);
        // KICK clears it at once; POLL keeps it set while it spins and clears it when it goes to sleep (poll-idle)
        while (ring.usedFlags() != 0 && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertEquals(0, ring.usedFlags(), "VRING_USED_F_NO_NOTIFY is clear while the device waits");
    }

    @Test
    void getVringBaseStopsTheRingAndARestartContinues() throws Exception {
        open();
        for (int i = 0; i < 5; i++) {
            ring.submit(false, req(VirtioBlkSpec.VIRTIO_BLK_T_FLUSH, 0, 0).bufs());
            ring.awaitUsed();
        }
        ScriptedFrontEnd.Reply r = fe.call(VhostUserRequest.GET_VRING_BASE, new VhostUserVringState(0, 0));
        VhostUserVringState s = VhostUserVringState.decode(r.buf());
        assertEquals(0, s.index());
        assertEquals(5, s.num(), "the next avail index to pop");
        // stopped: a chain made available now is not processed
        int head = ring.add(false, req(VirtioBlkSpec.VIRTIO_BLK_T_FLUSH, 0, 0).bufs());
        ring.publish(head);
        ring.kick();
        assertNull(ring.pollUsed(Duration.ofMillis(200)), "a stopped ring is not processed");
        // restart from where it stopped
        fe.command(VhostUserRequest.SET_VRING_BASE, new VhostUserVringState(0, s.num()));
        fe.command(VhostUserRequest.SET_VRING_KICK, new VhostUserVringFile(0, false), ring.kickFd());
        assertEquals(head, ring.awaitUsed().id(), "the restarted ring picks up the waiting chain");
    }

    @Test
    void aDisabledRingWaitsForEnable() throws Exception {
        Handshake.open(fe);
        mem.share(fe);
        ring = new DriverRing(mem.domain(), 0, 64);
        ring.start(fe, 0, false);
        ring.submit(false, req(VirtioBlkSpec.VIRTIO_BLK_T_FLUSH, 0, 0).bufs());
        assertNull(ring.pollUsed(Duration.ofMillis(200)), "disabled: not processed");
        fe.command(VhostUserRequest.SET_VRING_ENABLE, new VhostUserVringState(0, 1));
        ring.awaitUsed();
    }

    @Test
    void kickWithoutFdMeansPolling() throws Exception {
        Handshake.open(fe);
        mem.share(fe);
        ring = new DriverRing(mem.domain(), 0, 64);
        fe.command(VhostUserRequest.SET_VRING_CALL, new VhostUserVringFile(0, true));
        fe.command(VhostUserRequest.SET_VRING_NUM, new VhostUserVringState(0, 64));
        fe.command(VhostUserRequest.SET_VRING_BASE, new VhostUserVringState(0, 0));
        fe.command(VhostUserRequest.SET_VRING_ADDR, ring.addr());
        fe.command(VhostUserRequest.SET_VRING_KICK, new VhostUserVringFile(0, true));
        fe.command(VhostUserRequest.SET_VRING_ENABLE, new VhostUserVringState(0, 1));
        int head = ring.add(false, req(VirtioBlkSpec.VIRTIO_BLK_T_FLUSH, 0, 0).bufs());
        ring.publish(head); // no kick: the device polls
        assertEquals(head, ring.awaitUsed().id());
    }

    @Test
    void stalledQueuePopsNothingUntilResumed() throws Exception {
        open();
        target.faults().stallQueue(0);
        int head = ring.submit(false, req(VirtioBlkSpec.VIRTIO_BLK_T_FLUSH, 0, 0).bufs());
        assertNull(ring.pollUsed(Duration.ofMillis(200)));
        target.faults().resumeQueue(0);
        assertEquals(head, ring.awaitUsed().id());
    }

    @Test
    void addedRegionServesBuffersAndAnUnusedRegionCanBeRemoved() throws Exception {
        open();
        MemoryRegion extra = null;
        mem.domain().allocate(6 << 20, 4096); // more than the first region holds: a second region
        for (MemoryRegion r : mem.domain().regions()) {
            if (r != mem.domain().regions().getFirst()) {
                extra = r;
            }
        }
        assertNotNull(extra, "the domain grew a region");
        fe.command(VhostUserRequest.ADD_MEM_REG, new VhostUserSingleMemoryRegion(FrontEndMemory.wire(extra)), extra.fd());
        MemorySegment data = MemorySegment.ofAddress(extra.address()).reinterpret(extra.length()).asSlice(1 << 20, 4096);
        fill(data, 1234);
        BlkReq w = req(VirtioBlkSpec.VIRTIO_BLK_T_OUT, 128, 0);
        ring.submit(false, Buf.out(w.header), Buf.out(data), Buf.in(w.status));
        ring.awaitUsed();
        assertEquals(0, w.status());
        assertSameBytes(bytes(data), store.contents().asSlice(128 * 512, 4096).toArray(ValueLayout.JAVA_BYTE), "write from the added region");
        fe.command(VhostUserRequest.REM_MEM_REG, new VhostUserSingleMemoryRegion(FrontEndMemory.wire(extra)));
        ring.submit(false, req(VirtioBlkSpec.VIRTIO_BLK_T_FLUSH, 0, 0).bufs());
        ring.awaitUsed();
        // a buffer in the removed region is now outside the table
        ring.submit(false, Buf.out(w.header), Buf.out(data), Buf.in(w.status));
        expectDriverError("is not inside the memory table");
    }

    @Test
    void memoryTableResentWhileARequestIsInFlight() throws Exception {
        open();
        target.faults().delayCompletions(Duration.ofMillis(200));
        BlkReq r = req(VirtioBlkSpec.VIRTIO_BLK_T_IN, 0, 4096);
        int head = ring.submit(false, r.bufs());
        Thread.sleep(50);
        mem.share(fe); // a new table (new mappings of the same memory) while the device holds the request
        DriverRing.Used u = ring.awaitUsed();
        assertEquals(head, u.id());
        assertEquals(VirtioBlkSpec.VIRTIO_BLK_S_OK, r.status());
        target.faults().delayCompletions(Duration.ZERO);
        ring.submit(false, req(VirtioBlkSpec.VIRTIO_BLK_T_FLUSH, 0, 0).bufs());
        ring.awaitUsed();
    }

    @Test
    void resetDeviceForgetsTheRingsAndTheDeviceCanBeSetUpAgain() throws Exception {
        open();
        ring.submit(false, req(VirtioBlkSpec.VIRTIO_BLK_T_FLUSH, 0, 0).bufs());
        ring.awaitUsed();
        fe.command(VhostUserRequest.RESET_DEVICE, null);
        int head = ring.add(false, req(VirtioBlkSpec.VIRTIO_BLK_T_FLUSH, 0, 0).bufs());
        ring.publish(head);
        ring.kick();
        assertNull(ring.pollUsed(Duration.ofMillis(150)), "reset: the ring is stopped");
        // everything again, as after a fresh connection (the memory table survives a reset)
        fe.command(VhostUserRequest.SET_FEATURES, new io.jvirtio.spec.vhostuser.VhostUserU64(fe.callU64(VhostUserRequest.GET_FEATURES)
                & ~io.jvirtio.spec.VirtioFeatures.bit(io.jvirtio.spec.VirtioFeatures.VIRTIO_F_RING_PACKED)));
        ring.start(fe, 1, true);
        assertEquals(head, ring.awaitUsed().id());
    }

    @Test
    void statusZeroStopsTheRings() throws Exception {
        open();
        fe.command(VhostUserRequest.SET_STATUS, new io.jvirtio.spec.vhostuser.VhostUserU64(0));
        ring.submit(false, req(VirtioBlkSpec.VIRTIO_BLK_T_FLUSH, 0, 0).bufs());
        assertNull(ring.pollUsed(Duration.ofMillis(150)));
        VhostUserVringState s = VhostUserVringState.decode(fe.call(VhostUserRequest.GET_VRING_BASE, new VhostUserVringState(0, 0)).buf());
        assertEquals(0, s.num(), "nothing was popped after the stop");
    }

    @Test
    void pollingModeServesWithoutKicks(@TempDir Path d) throws Exception {
        io.jvirtio.backend.TargetOptions o = io.jvirtio.backend.TargetOptions.builder().polling(true).pollIdle(java.time.Duration.ZERO).build(); // never re-arms the kick: this driver never kicks
        try (VhostUserTarget polled = VhostUserTarget.builder().name("polled").socket(d.resolve("poll.sock")).options(o)
                .blk(new RamBlockStore(1 << 20, false), BlkModelOptions.defaults()).start();
             ScriptedFrontEnd pfe = ScriptedFrontEnd.connect(polled.socketPath());
             DriverRing pr = new DriverRing(mem.domain(), 0, 16)) {
            Handshake.open(pfe);
            mem.share(pfe);
            pr.start(pfe, 0, true);
            for (int i = 0; i < 5; i++) {
                int head = pr.add(false, req(VirtioBlkSpec.VIRTIO_BLK_T_FLUSH, 0, 0).bufs());
                pr.publish(head); // never kicked
                assertEquals(head, pr.awaitUsed().id());
            }
        }
    }

    // ------------------------------------------------------------------ driver errors

    @Test
    void headOutOfRange() throws Exception {
        open();
        ring.publish(64);
        ring.kick();
        expectDriverError("ring queue 0: avail ring entry 0 holds head 64, beyond the queue size 64");
    }

    @Test
    void availIndexJumpingAheadOfTheQueueSize() throws Exception {
        open(-1L, 8);
        ring.publishMany(0, 9);
        ring.kick();
        expectDriverError("avail.idx moved to 9 while the device was at 0: 9 entries, more than the queue size 8");
    }

    @Test
    void descriptorLoop() throws Exception {
        open();
        MemorySegment buf = mem.domain().allocate(512, 512);
        DriverRing.writeDesc(ring.descTable(), 0, buf.address(), 512, VRING_DESC_F_NEXT, 1);
        DriverRing.writeDesc(ring.descTable(), 1, buf.address(), 512, VRING_DESC_F_NEXT, 0);
        ring.publish(0);
        ring.kick();
        expectDriverError("chain of head 0 is longer than 64 descriptors");
    }

    @Test
    void bufferOutsideTheMemoryTable() throws Exception {
        open();
        DriverRing.writeDesc(ring.descTable(), 3, 0x1000, 512, 0, 0);
        ring.publish(3);
        ring.kick();
        expectDriverError("descriptor 3 of head 3: buffer [0x1000, +512) is not inside the memory table");
    }

    @Test
    void readableAfterWritable() throws Exception {
        open();
        BlkReq r = req(VirtioBlkSpec.VIRTIO_BLK_T_IN, 0, 512);
        ring.submit(false, Buf.in(r.status), Buf.out(r.header));
        expectDriverError("is device-readable after a device-writable one");
    }

    @Test
    void indirectWithoutTheFeature() throws Exception {
        open(~VirtioFeatures.bit(VirtioFeatures.VIRTIO_RING_F_INDIRECT_DESC), 64);
        ring.submit(true, req(VirtioBlkSpec.VIRTIO_BLK_T_FLUSH, 0, 0).bufs());
        expectDriverError("VIRTIO_RING_F_INDIRECT_DESC was not negotiated");
    }

    @Test
    void indirectTableOfBadLength() throws Exception {
        open();
        MemorySegment table = mem.domain().allocate(64, 16);
        DriverRing.writeDesc(ring.descTable(), 2, table.address(), 40, VRING_DESC_F_INDIRECT, 0);
        ring.publish(2);
        ring.kick();
        expectDriverError("indirect table of descriptor 2 has len 40");
    }

    @Test
    void headMadeAvailableAgainWhileInFlight() throws Exception {
        open();
        target.faults().delayCompletions(Duration.ofSeconds(2));
        int head = ring.submit(false, req(VirtioBlkSpec.VIRTIO_BLK_T_FLUSH, 0, 0).bufs());
        Thread.sleep(50);
        ring.publish(head);
        ring.kick();
        expectDriverError("head " + head + " made available again while the device still holds it");
    }

    @Test
    void driverErrorSignalsTheErrEventfd() throws Exception {
        open();
        int err = Native.eventfd(0, LinuxConstants.EFD_NONBLOCK | LinuxConstants.EFD_CLOEXEC);
        try {
            fe.command(VhostUserRequest.SET_VRING_ERR, new VhostUserVringFile(0, false), err);
            ring.publish(1000 % 64 + 64);
            ring.kick();
            expectDriverError("beyond the queue size");
            assertTrue(Native.eventfdRead(err) > 0, "the err eventfd was signalled");
        } finally {
            Native.close(err);
        }
    }
}
