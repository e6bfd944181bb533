package io.jvirtio.bdev.driver;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.bdev.IoCallback;
import io.jvirtio.bdev.IoType;
import io.jvirtio.spec.VirtioException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DriverRequestQueueTest {
    static final class TestRequest extends DriverRequest<TestIo> {
        TestRequest(int slot) {
            super(slot);
        }
    }

    /** A request queue whose "ring" takes {@code room} requests; each request carries one unit of an I/O. */
    static final class TestQueue extends DriverRequestQueue<TestIo, TestRequest> {
        int room;
        final List<TestRequest> onRing = new ArrayList<>();
        final List<Object> submitted = new ArrayList<>();
        /** what refusal() answers: the error an I/O ends with before its next request */
        VirtioException refuse;
        final List<Object> afterCompletion = new ArrayList<>();

        TestQueue(int requests, int pending) {
            super(makeRequests(requests), pending);
        }

        private static TestRequest[] makeRequests(int n) {
            TestRequest[] r = new TestRequest[n];
            for (int i = 0; i < n; i++) {
                r[i] = new TestRequest(i);
            }
            return r;
        }

        @Override
        protected boolean submit(TestIo io, TestRequest request) {
            if (io.context == "bad") {
                throw new BdevIoException(Reason.INVALID_ARGUMENT, "cannot build");
            }
            if (room == 0) {
                return false;
            }
            room--;
            io.remaining--;
            onRing.add(request);
            submitted.add(io.context);
            return true;
        }

        @Override
        protected VirtioException refusal(TestIo io) {
            return refuse;
        }

        @Override
        protected void afterCompletion(TestIo io) {
            afterCompletion.add(io.slots().inUse());
        }

        TestRequest take() {
            return takeRequest();
        }

        /** the device completes the oldest request on the ring */
        void completeOne() {
            TestRequest r = onRing.removeFirst();
            room++;
            requestDone(r);
        }
    }

    static final class Done implements IoCallback {
        final List<Object> order = new ArrayList<>();
        final List<VirtioException> errors = new ArrayList<>();

        @Override
        public void onComplete(Object context, VirtioException error) {
            order.add(context);
            errors.add(error);
        }
    }

    private static TestIo start(TestQueue q, IoSlots<TestIo> slots, IoType op, long units, Object ctx, Done done) {
        TestIo io = slots.take();
        io.op = op;
        io.remaining = units;
        io.callback = done;
        io.context = ctx;
        q.start(io);
        return io;
    }

    @Test
    void ioWaitsInOrderAndResumesWhereItStopped() {
        TestQueue q = new TestQueue(8, 4);
        q.room = 3;
        IoSlots<TestIo> slots = new IoSlots<>("b0", 4, TestIo::new);
        Done done = new Done();
        start(q, slots, IoType.WRITE, 2, "a", done);
        start(q, slots, IoType.WRITE, 2, "b", done); // one request of b fits, the other waits
        start(q, slots, IoType.WRITE, 1, "c", done); // queues behind b even once there is room
        assertEquals(List.of("a", "a", "b"), q.submitted);
        assertTrue(q.hasPending());
        q.completeOne();
        q.completeOne();
        assertEquals(List.of("a"), done.order);
        q.drainPending();
        assertEquals(List.of("a", "a", "b", "b", "c"), q.submitted);
        while (!q.onRing.isEmpty()) {
            q.completeOne();
        }
        assertEquals(List.of("a", "b", "c"), done.order);
        assertEquals(0, slots.inUse());
        assertEquals(0, q.outstanding());
        assertEquals(3, q.completed());
    }

    @Test
    void aResetWaitsForEverythingBeforeIt() {
        TestQueue q = new TestQueue(8, 4);
        q.room = 8;
        IoSlots<TestIo> slots = new IoSlots<>("b0", 4, TestIo::new);
        Done done = new Done();
        start(q, slots, IoType.READ, 1, "r", done);
        TestIo reset = start(q, slots, IoType.RESET, 0, "reset", done);
        assertTrue(reset.queued);
        q.drainPending();
        assertEquals(List.of(), done.order);
        q.completeOne();
        q.drainPending();
        assertEquals(List.of("r", "reset"), done.order);
    }

    @Test
    void aDeferredIoRunsFromTheNextDrainOnly() {
        TestQueue q = new TestQueue(8, 4);
        q.room = 8;
        IoSlots<TestIo> slots = new IoSlots<>("b0", 4, TestIo::new);
        Done done = new Done();
        TestIo reset = slots.take();
        reset.op = IoType.RESET;
        reset.callback = done;
        reset.context = "reset";
        q.defer(reset);
        assertEquals(List.of(), done.order, "not from within the submitting call");
        start(q, slots, IoType.READ, 1, "r", done); // behind the reset
        assertEquals(List.of(), q.submitted);
        q.drainPending();
        assertEquals(List.of("reset"), done.order);
        assertEquals(List.of("r"), q.submitted);
    }

    @Test
    void aSubmitErrorFailsTheIoWithItsReason() {
        TestQueue q = new TestQueue(8, 4);
        q.room = 8;
        IoSlots<TestIo> slots = new IoSlots<>("b0", 4, TestIo::new);
        Done done = new Done();
        TestIo io = start(q, slots, IoType.WRITE, 1, "bad", done);
        io.offset = 0;
        assertEquals(List.of("bad"), done.order);
        BdevIoException e = (BdevIoException) done.errors.getFirst();
        assertEquals(Reason.INVALID_ARGUMENT, e.reason());
        assertEquals("bdev b0: write at offset 0 failed: cannot build", e.getMessage());
    }

    @Test
    void abandonFailsOneChannelAndOrphansWhatTheDeviceHolds() {
        TestQueue q = new TestQueue(8, 8);
        q.room = 2;
        IoSlots<TestIo> mine = new IoSlots<>("lun0", 4, TestIo::new);
        IoSlots<TestIo> other = new IoSlots<>("lun1", 4, TestIo::new);
        Done done = new Done();
        start(q, mine, IoType.WRITE, 1, "m1", done);
        start(q, other, IoType.WRITE, 1, "o1", done);
        start(q, mine, IoType.WRITE, 1, "m2", done);  // waits
        start(q, other, IoType.WRITE, 1, "o2", done); // waits
        q.abandon(mine, new BdevIoException(Reason.TIMED_OUT, "gave up"));
        assertEquals(List.of("m1", "m2"), done.order);
        assertEquals(Reason.TIMED_OUT, ((BdevIoException) done.errors.get(0)).reason());
        assertEquals(0, mine.inUse());
        TestRequest orphan = q.onRing.getFirst();
        assertTrue(orphan.orphan);
        assertNull(orphan.io);
        q.completeOne(); // the device completes the orphan: it is freed, nobody is called
        assertEquals(2, done.order.size());
        q.drainPending();
        q.completeOne();
        q.completeOne();
        assertEquals(List.of("m1", "m2", "o1", "o2"), done.order);
        assertEquals(0, q.outstanding());
    }

    @Test
    void failPendingFailsWhatWaits() {
        TestQueue q = new TestQueue(8, 4);
        q.room = 0;
        IoSlots<TestIo> slots = new IoSlots<>("b0", 4, TestIo::new);
        Done done = new Done();
        TestIo io = start(q, slots, IoType.READ, 1, "w", done);
        q.failPending(new BdevIoException(Reason.CLOSED, "closed"));
        assertEquals(List.of("w"), done.order);
        assertEquals(Reason.CLOSED, ((BdevIoException) done.errors.getFirst()).reason());
        assertSame(slots, io.slots());
        assertEquals(0, slots.inUse());
    }

    @Test
    void aRefusalEndsTheIoBeforeItsNextRequestWithTheErrorAsItIs() {
        TestQueue q = new TestQueue(8, 4);
        q.room = 1;
        IoSlots<TestIo> slots = new IoSlots<>("b0", 4, TestIo::new);
        Done done = new Done();
        start(q, slots, IoType.WRITE, 3, "a", done); // one request on the ring, the rest waits
        BdevIoException removed = new BdevIoException(Reason.CLOSED, "bdev b0: write refused: the LUN was removed");
        q.refuse = removed;
        q.room = 8;
        q.drainPending();
        assertEquals(List.of("a"), q.submitted, "nothing more of the I/O is submitted");
        assertEquals(List.of(), done.order, "it waits for its request on the ring");
        q.completeOne();
        assertEquals(List.of("a"), done.order);
        assertSame(removed, done.errors.getFirst(), "not wrapped");
    }

    @Test
    void afterCompletionRunsOnceTheSlotIsBackAndTheCallbackReturned() {
        TestQueue q = new TestQueue(8, 4);
        q.room = 8;
        IoSlots<TestIo> slots = new IoSlots<>("b0", 4, TestIo::new);
        Done done = new Done();
        start(q, slots, IoType.READ, 1, "a", done);
        start(q, slots, IoType.READ, 1, "b", done);
        q.completeOne();
        assertEquals(List.of("a"), done.order);
        assertEquals(List.of(1), q.afterCompletion, "one I/O still in flight when the first one's hook ran");
        q.completeOne();
        assertEquals(List.of(1, 0), q.afterCompletion);
    }

    @Test
    void aDriverRequestCountsAsOutstandingUntilItIsDone() {
        TestQueue q = new TestQueue(2, 4);
        TestRequest own = q.take();
        own.orphan = true;
        assertEquals(1, q.outstanding());
        assertTrue(q.take() != null);
        assertNull(q.take(), "every request in use");
        q.requestDone(own);
        assertEquals(1, q.outstanding());
        assertTrue(!own.orphan, "cleared when freed");
        assertSame(own, q.take());
    }
}
