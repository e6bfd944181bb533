package io.jvirtio.core.ring;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.spec.ring.PackedRingLayout;
import io.jvirtio.spec.ring.SplitRingLayout;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The packed twin of {@link SplitRingFuzzTest}: the packed ring's driver side against a device that
 * writes anything it likes into the ring memory between the driver's polls: used descriptors with
 * random ids, lengths and flag patterns in any slot, bytes scribbled anywhere in the descriptor ring
 * and both event suppression structures. The driver submits requests of 1..6 buffers (direct, or indirect when they fit), polls,
 * aborts a request being built, toggles interrupts and fails everything, in the order the input
 * says.
 *
 * <p>Invariant: nothing but the documented errors escapes ({@code reqStart} may throw
 * {@link VirtioException} once the queue is broken, {@code poll} never throws); every request ends
 * exactly once (completed with a length at most its writable bytes, or failed; a failure after a
 * violation is a {@link RingViolationException}); nothing completes that was not submitted; at the
 * end submitted = completed + failed + in flight; and the driver wrote nothing outside the ring
 * and indirect memory (guard bytes around both are intact).
 */
class PackedRingFuzzTest {
    private static final long GUARD = 4096;
    private static final byte GUARD_BYTE = (byte) 0xA5;
    private static final int MAX_OPS = 512;

    @FuzzTest(maxDuration = "10m")
    @Timeout(10)
    void ring(FuzzedDataProvider in) {
        int size = in.consumeInt(1, 64); // any size: the packed ring needs no power of two
        int maxIndirect = in.consumeBoolean() ? 0 : in.consumeInt(2, 8);
        boolean eventIdx = in.consumeBoolean();
        try (Arena arena = Arena.ofConfined()) {
            long ringBytes = PackedRingLayout.totalBytes(size);
            long indirectBytes = (long) size * Math.max(maxIndirect, 1) * PackedRingLayout.DESC_SIZE;
            long indirectAt = GUARD + ((ringBytes + GUARD + 15) & -16L);
            long end = indirectAt + indirectBytes + GUARD;
            MemorySegment all = arena.allocate(end, SplitRingLayout.VIRTIO_PCI_VRING_ALIGN);
            all.fill(GUARD_BYTE);
            MemorySegment ringMemory = all.asSlice(GUARD, ringBytes);
            ringMemory.fill((byte) 0);
            MemorySegment indirect = maxIndirect == 0 ? null : all.asSlice(indirectAt, indirectBytes);
            MemorySegment buffers = arena.allocate(4096, 8);
            PackedVirtqueue vq = new PackedVirtqueue("fuzz-q0", 0, size, ringMemory, indirect, maxIndirect, eventIdx, q -> { });
            new Run(in, vq, ringMemory, buffers, size).go();
            checkGuard(all, 0, GUARD);
            checkGuard(all, GUARD + ringBytes, indirectAt - (GUARD + ringBytes));
            checkGuard(all, indirectAt + indirectBytes, GUARD);
            if (indirect == null) {
                checkGuard(all, indirectAt, indirectBytes);
            }
        }
    }

    private static void checkGuard(MemorySegment all, long from, long len) {
        for (long i = from; i < from + len; i++) {
            if (all.get(ValueLayout.JAVA_BYTE, i) != GUARD_BYTE) {
                fail("the driver wrote outside the ring memory, at guard byte " + (i - from) + " of the guard at " + from);
            }
        }
    }

    /** One execution: the driver's records of what it submitted, and the sink that checks completions. */
    private static final class Run implements UsedSink {
        private final FuzzedDataProvider in;
        private final PackedVirtqueue vq;
        private final MemorySegment ring;
        private final MemorySegment buffers;
        private final int size;
        private final Map<Integer, Integer> writable = new HashMap<>();
        private final Set<Integer> ended = new HashSet<>();
        private int next;
        private int completed;
        private int failed;
        private boolean sawBreak;

        Run(FuzzedDataProvider in, PackedVirtqueue vq, MemorySegment ring, MemorySegment buffers, int size) {
            this.in = in;
            this.vq = vq;
            this.ring = ring;
            this.buffers = buffers;
            this.size = size;
        }

        void go() {
            for (int op = 0; op < MAX_OPS && in.remainingBytes() > 0; op++) {
                switch (in.consumeInt(0, 7)) {
                    case 0, 1 -> submit();
                    case 2 -> usedElement();
                    case 3 -> ring.set(SplitRingLayout.LE_SHORT, PackedRingLayout.descOffset(in.consumeInt(0, size - 1))
                            + PackedRingLayout.DESC_FLAGS_OFFSET, in.consumeShort());
                    case 4 -> scribble();
                    case 5 -> poll();
                    case 6 -> vq.setInterruptsEnabled(in.consumeBoolean());
                    default -> {
                        if (in.consumeInt(0, 3) == 0) {
                            vq.failAll(new VirtioException("fuzz: fail all"), this);
                        } else {
                            vq.reqAbort();
                        }
                    }
                }
                assertTrue(vq.inFlight() >= 0 && vq.inFlight() <= size, "in flight " + vq.inFlight());
                assertTrue(vq.freeDescriptors() >= 0 && vq.freeDescriptors() <= size, "free descriptors " + vq.freeDescriptors());
            }
            vq.reqFlush();
            poll();
            vq.failAll(new VirtioException("fuzz: the end"), this);
            assertEquals(next, completed + failed + countUnended(), "submitted = completed + failed + never flushed");
            assertEquals(0, vq.inFlight(), "nothing in flight after failAll");
        }

        private int countUnended() {
            int n = 0;
            for (int id = 0; id < next; id++) {
                if (!ended.contains(id)) {
                    n++;
                }
            }
            return n; // reqAbort drops the request being built without a callback
        }

        private void submit() {
            int iovcnt = in.consumeInt(1, 6);
            int id = next;
            boolean started;
            try {
                started = vq.reqStart(id, iovcnt);
            } catch (RingViolationException e) {
                assertTrue(vq.isBroken(), "reqStart threw a ring violation on a queue that is not broken");
                return;
            } catch (VirtioException e) {
                assertTrue(iovcnt > size || vq.isBroken(), "reqStart refused " + iovcnt + " buffers on a queue of " + size + ": " + e);
                return;
            }
            if (!started) {
                return;
            }
            next++;
            int readable = in.consumeInt(0, iovcnt);
            int bytes = 0;
            for (int i = 0; i < iovcnt; i++) {
                int len = in.consumeInt(0, 512);
                boolean w = i >= readable;
                vq.reqAddIov(buffers.address() + in.consumeInt(0, 3584), len, w);
                if (w) {
                    bytes += len;
                }
            }
            writable.put(id, bytes);
            if (in.consumeBoolean()) {
                vq.reqFlush();
            }
        }

        /** A used descriptor in any slot: an id in or out of range, any len, the used pattern of either lap or any flags. */
        private void usedElement() {
            long at = PackedRingLayout.descOffset(in.consumeInt(0, size - 1));
            ring.set(SplitRingLayout.LE_SHORT, at + PackedRingLayout.DESC_ID_OFFSET,
                    (short) (in.consumeBoolean() ? in.consumeInt(0, size) : in.consumeInt()));
            ring.set(SplitRingLayout.LE_INT, at + PackedRingLayout.DESC_LEN_OFFSET, in.consumeBoolean() ? in.consumeInt(0, 1024) : in.consumeInt());
            int flags = switch (in.consumeInt(0, 2)) {
                case 0 -> PackedRingLayout.usedFlags(true);
                case 1 -> PackedRingLayout.usedFlags(false);
                default -> in.consumeShort();
            };
            ring.set(SplitRingLayout.LE_SHORT, at + PackedRingLayout.DESC_FLAGS_OFFSET, (short) flags);
        }

        private void scribble() {
            long at = in.consumeLong(0, ring.byteSize() - 1);
            byte[] bytes = in.consumeBytes(16);
            for (int i = 0; i < bytes.length && at + i < ring.byteSize(); i++) {
                ring.set(ValueLayout.JAVA_BYTE, at + i, bytes[i]);
            }
        }

        private void poll() {
            vq.poll(in.consumeInt(1, 2 * size), this);
        }

        @Override
        public void onUsed(Object cookie, int len) {
            int id = end(cookie);
            completed++;
            assertFalse(sawBreak && vq.isBroken(), "a completion delivered after the queue broke");
            assertTrue(len >= 0 && len <= writable.getOrDefault(id, 0),
                    "request " + id + " completed with len " + len + ", writable " + writable.get(id));
        }

        @Override
        public void onError(Object cookie, VirtioException error) {
            end(cookie);
            failed++;
            if (vq.isBroken()) {
                sawBreak = true;
                assertInstanceOf(RingViolationException.class, error, "a failure of a broken queue");
            }
        }

        private int end(Object cookie) {
            assertInstanceOf(Integer.class, cookie, "a cookie the driver never gave");
            int id = (Integer) cookie;
            assertTrue(id >= 0 && id < next, "request " + id + " was never submitted");
            assertTrue(ended.add(id), "request " + id + " ended twice");
            return id;
        }
    }
}
