package io.jvirtio.backend.fault;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.blk.VirtioBlkChannel;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.ring.RingViolation;
import io.jvirtio.core.ring.RingViolationException;
import io.jvirtio.spec.vhostuser.VhostUserException;
import io.jvirtio.core.vhostuser.VhostUserOptions;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.store.RamBlockStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static io.jvirtio.core.testing.BlkPatterns.*;
import static org.junit.jupiter.api.Assertions.*;

/** Each fault of the injector, as jvirtio's blk initiator sees it: a clear error, never a hang or a crash. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BlkFaultInjectionTest {
    private static final long SHORT = TimeUnit.MILLISECONDS.toNanos(500);

    private VhostUserTarget target;
    private RamBlockStore store;

    @BeforeAll
    void start(@TempDir Path d) {
        store = new RamBlockStore(16L << 20, false);
        target = VhostUserTarget.builder().name("faulty").socket(d.resolve("f.sock"))
                .blk(store, BlkModelOptions.builder().numQueues(2).build()).start();
    }

    @AfterAll
    void stop() {
        target.close();
    }

    @BeforeEach
    void clean() throws InterruptedException {
        target.faults().clear();
        assertTrue(target.awaitIdle(0, Duration.ofSeconds(5)));
    }

    private VirtioBlkDevice connect(String name) {
        return connect(name, VhostUserOptions.defaults());
    }

    private VirtioBlkDevice connect(String name, VhostUserOptions vu) {
        return VirtioBlkDevice.connectVhostUser(name, target.socketPath(),
                VirtioBlkOptions.defaults().withRequestQueues(1).withQueueSize(64).withMemoryBytes(8L << 20)
                        .withHugePages(HugePagePolicy.NEVER), vu);
    }

    @Test
    void failedRequestsAreIoErrorsNamingTheStatus() {
        try (VirtioBlkDevice blk = connect("f-ioerr"); VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = new SyncIo(ch);
            MemorySegment buf = blk.allocateBuffer(4096, 4096);
            target.faults().failNextRequests(2);
            for (int i = 0; i < 2; i++) {
                BdevIoException e = assertThrows(BdevIoException.class, () -> io.write(buf, 0));
                assertTrue(e.getMessage().contains("VIRTIO_BLK_S_IOERR"), e.getMessage());
            }
            io.write(buf, 0); // the third goes through
            assertEquals(0, target.faults().pendingFailures());
        }
    }

    @Test
    void anInjectedSenseIsStillAnIoErrorOnBlk() {
        try (VirtioBlkDevice blk = connect("f-sense"); VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = new SyncIo(ch);
            MemorySegment buf = blk.allocateBuffer(4096, 4096);
            target.faults().failNextRequests(1, InjectedError.sense(0x3, 0x11, 0x00));
            BdevIoException e = assertThrows(BdevIoException.class, () -> io.read(buf, 0));
            assertTrue(e.getMessage().contains("VIRTIO_BLK_S_IOERR"), e.getMessage());
        }
    }

    @Test
    void delayedCompletionsArriveLate() {
        try (VirtioBlkDevice blk = connect("f-delay"); VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = new SyncIo(ch);
            MemorySegment w = blk.allocateBuffer(4096, 4096);
            fill(w, 3);
            target.faults().delayCompletions(Duration.ofMillis(300));
            long t0 = System.nanoTime();
            io.write(w, 8192);
            long took = System.nanoTime() - t0;
            assertTrue(took >= TimeUnit.MILLISECONDS.toNanos(290), "a delayed completion took " + took / 1_000_000 + " ms");
            target.faults().delayCompletions(Duration.ZERO);
            MemorySegment r = blk.allocateBuffer(4096, 4096);
            io.read(r, 8192);
            assertSameBytes(bytes(w), bytes(r), "data of a delayed write");
        }
    }

    @Test
    void aStalledQueueTimesOutAndResumes() {
        try (VirtioBlkDevice blk = connect("f-stall"); VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = new SyncIo(ch, SHORT);
            MemorySegment buf = blk.allocateBuffer(4096, 4096);
            target.faults().stallQueue(0);
            BdevIoException e = assertThrows(BdevIoException.class, () -> io.read(buf, 0));
            assertTrue(e.getMessage().contains("did not complete within"), e.getMessage());
            target.faults().resumeQueue(0);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (ch.inFlight() > 0 && System.nanoTime() < deadline) {
                ch.poll();
            }
            assertEquals(0, ch.inFlight(), "the stalled request completes once the queue resumes");
            io.read(buf, 0);
        }
    }

    @Test
    void aDroppedConnectionLeavesTheInitiatorWithATimeoutAndTheDeviceServesTheNext() throws Exception {
        int errors = (int) target.errorCount();
        VirtioBlkDevice blk = connect("f-drop");
        VirtioBlkChannel ch = blk.openChannel();
        try {
            SyncIo io = new SyncIo(ch, SHORT);
            MemorySegment w = blk.allocateBuffer(4096, 4096);
            fill(w, 11);
            target.faults().dropConnectionAfter(3);
            for (int i = 0; i < 3; i++) {
                io.write(w, i * 4096L);
            }
            assertThrows(BdevIoException.class, () -> io.write(w, 3 * 4096L), "the fourth never completes");
            assertTrue(target.awaitErrors(errors + 1, Duration.ofSeconds(5)));
            assertTrue(target.lastError().contains("fault injection: connection dropped"), target.lastError());
        } finally {
            // the device first: a channel of a closed device does not wait for I/O the back-end took away
            try {
                blk.close();
            } catch (VirtioException e) {
                // its back-end went away: the initiator says so, which is its business
            }
            ch.close();
        }
        try (VirtioBlkDevice again = connect("f-after-drop"); VirtioBlkChannel ch2 = again.openChannel()) {
            MemorySegment r = again.allocateBuffer(4096, 4096);
            new SyncIo(ch2).read(r, 2 * 4096L);
            MemorySegment exp = MemorySegment.ofArray(new byte[4096]);
            fill(exp, 11);
            assertSameBytes(bytes(exp), bytes(r), "data written before the drop");
        }
    }

    @ParameterizedTest
    @EnumSource(UsedRingFault.class)
    void maliciousUsedElementsBreakTheInitiatorsQueueWithANamedViolation(UsedRingFault fault) {
        RingViolation expected = RingViolation.valueOf(fault.name());
        try (VirtioBlkDevice blk = connect("f-" + fault.name().toLowerCase()); VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = new SyncIo(ch, SHORT);
            MemorySegment buf = blk.allocateBuffer(4096, 4096);
            io.read(buf, 0);
            target.faults().corruptNextUsed(FaultInjector.ANY_QUEUE, fault);
            // A packed ring's index jump is one used descriptor more than requests in flight: it shows
            // right after the real completion was delivered, so the request after it is refused.
            boolean afterOne = fault == UsedRingFault.USED_INDEX_JUMP && blk.device().hasFeature(VirtioFeatures.VIRTIO_F_RING_PACKED);
            VirtioException e = assertThrows(VirtioException.class, () -> {
                io.read(buf, 0);
                if (afterOne) {
                    io.read(buf, 0);
                }
            });
            // Refused after the break, the request fails before the ring: the queue holds the violation.
            RingViolationException rv = e instanceof RingViolationException r ? r
                    : e.getCause() instanceof RingViolationException c ? c : ch.queue().brokenCause();
            assertNotNull(rv, "a RingViolationException: " + e);
            assertEquals(expected, rv.violation(), rv.getMessage());
            assertThrows(VirtioException.class, () -> io.read(buf, 0), "the queue stays broken");
        } catch (VirtioException closing) {
            // closing after a broken queue may report it
        }
    }

    @Test
    void replyWithAnotherRequestCode() {
        target.faults().badReply(VhostUserRequest.GET_FEATURES, ReplyFault.WRONG_REQUEST_CODE);
        VhostUserException e = assertThrows(VhostUserException.class, () -> connect("f-code"));
        assertTrue(e.getMessage().contains("reply to VHOST_USER_GET_FEATURES carries request code 2 (VHOST_USER_SET_FEATURES)"), e.getMessage());
    }

    @Test
    void replyOfTheWrongSize() {
        target.faults().badReply(VhostUserRequest.GET_PROTOCOL_FEATURES, ReplyFault.WRONG_SIZE);
        VhostUserException e = assertThrows(VhostUserException.class, () -> connect("f-size"));
        assertTrue(e.getMessage().contains("u64 payload is 12 bytes, expected 8"), e.getMessage());
    }

    @Test
    void replyWithoutTheReplyFlag() {
        target.faults().badReply(VhostUserRequest.GET_QUEUE_NUM, ReplyFault.NO_REPLY_FLAG);
        VhostUserException e = assertThrows(VhostUserException.class, () -> connect("f-flag"));
        assertTrue(e.getMessage().contains("REPLY flag"), e.getMessage());
    }

    @Test
    void replyOfAnotherVersion() {
        target.faults().badReply(VhostUserRequest.GET_FEATURES, ReplyFault.BAD_VERSION);
        VhostUserException e = assertThrows(VhostUserException.class, () -> connect("f-version"));
        assertTrue(e.getMessage().contains("version 2, expected 1"), e.getMessage());
    }

    @Test
    void noReplyAtAll() {
        target.faults().badReply(VhostUserRequest.GET_MAX_MEM_SLOTS, ReplyFault.NO_REPLY);
        VhostUserException e = assertThrows(VhostUserException.class,
                () -> connect("f-silent", VhostUserOptions.builder().replyTimeout(Duration.ofMillis(300)).build()));
        assertTrue(e.getMessage().contains("no reply to VHOST_USER_GET_MAX_MEM_SLOTS within 300 ms"), e.getMessage());
    }

    @Test
    void aNegativeAck() {
        target.faults().badReply(VhostUserRequest.SET_VRING_NUM, ReplyFault.NACK);
        VirtioException e = assertThrows(VirtioException.class, () -> connect("f-nack"));
        Throwable t = e;
        while (!(t instanceof VhostUserException) && t.getCause() != null) {
            t = t.getCause();
        }
        assertTrue(t.getMessage().contains("VHOST_USER_SET_VRING_NUM failed: the back-end answered REPLY_ACK with u64 1"), t.getMessage());
    }
}
