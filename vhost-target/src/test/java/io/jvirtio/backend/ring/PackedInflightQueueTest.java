package io.jvirtio.backend.ring;

import io.jvirtio.spec.ring.PackedRingLayout;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

import static io.jvirtio.backend.ring.PackedInflightQueue.*;
import static io.jvirtio.spec.ring.SplitRingLayout.LE_INT;
import static io.jvirtio.spec.ring.SplitRingLayout.LE_LONG;
import static io.jvirtio.spec.ring.SplitRingLayout.LE_SHORT;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The packed format of the inflight area ({@code QueueRegionPacked}) against the steps of QEMU's
 * vhost-user.rst, with a descriptor ring written by hand: what a taken chain leaves in the area, a
 * completion, and every point a back-end can die at (before, during and after a completion, in the
 * middle of recording a chain), then what the next back-end resubmits and where it starts.
 */
class PackedInflightQueueTest {
    private static final int SIZE = 8;
    private final Arena arena = Arena.ofAuto();
    private MemorySegment descRing;
    private PackedRing ring;
    private MemorySegment region;

    @BeforeEach
    void setUp() {
        descRing = arena.allocate(PackedRing.descBytes(SIZE), 16);
        ring = new PackedRing(SIZE, descRing, arena.allocate(4, 4), arena.allocate(4, 4));
        region = arena.allocate(PackedInflightQueue.bytesPerQueue(SIZE), 64);
    }

    @Test
    void sizesAreDpdks() {
        // get_pervq_shm_size_packed: ALIGN(32 * n + 8 + 2 * 6 + 9, 64)
        assertEquals(2112, PackedInflightQueue.bytesPerQueue(64));
        assertEquals(8256, PackedInflightQueue.bytesPerQueue(256));
        assertEquals(64, PackedInflightQueue.bytesPerQueue(1));
        assertEquals(32 + 32 * 3, PackedInflightQueue.bytesPerQueue(3), "an odd size still holds the 32-byte header and the states");
        for (int n = 1; n <= 1024; n++) {
            assertTrue(PackedInflightQueue.bytesPerQueue(n) >= HEADER_SIZE + (long) DESC_STATE_SIZE * n, "size " + n);
        }
    }

    @Test
    void aFreshRegionIsSetUpAtTheBase() {
        PackedInflightQueue q = new PackedInflightQueue(region, SIZE);
        PackedInflightQueue.Restart r = q.start(ring, 0, true);
        assertEquals(new PackedInflightQueue.Restart(0, true, List.of(), 0), r);
        assertEquals(INFLIGHT_VERSION, u16(VERSION_OFFSET));
        assertEquals(SIZE, u16(DESC_NUM_OFFSET));
        assertEquals(0, u16(FREE_HEAD_OFFSET));
        assertEquals(1, region.get(ValueLayout.JAVA_BYTE, USED_WRAP_COUNTER_OFFSET));
        for (int i = 0; i < SIZE; i++) {
            assertEquals(i + 1, u16(entry(i) + DESC_NEXT_OFFSET), "free list link of entry " + i);
        }
    }

    @Test
    void aTakenChainIsCopiedIntoTheArea() {
        PackedInflightQueue q = started();
        avail(0, 0x1000, 16, 0, PackedRingLayout.VIRTQ_DESC_F_NEXT);
        avail(1, 0x2000, 512, 0, PackedRingLayout.VIRTQ_DESC_F_NEXT | PackedRingLayout.VIRTQ_DESC_F_WRITE);
        avail(2, 0x3000, 1, 5, PackedRingLayout.VIRTQ_DESC_F_WRITE);
        int head = q.taken(descRing, SIZE, 0, 3);
        assertEquals(0, head);
        assertTrue(q.isInflight(0));
        assertEquals(3, u16(entry(0) + DESC_NUM_ENTRIES_OFFSET));
        assertEquals(2, u16(entry(0) + DESC_LAST_OFFSET));
        assertEquals(0x2000, region.get(LE_LONG, entry(1) + DESC_ADDR_OFFSET));
        assertEquals(512, region.get(LE_INT, entry(1) + DESC_LEN_OFFSET));
        assertEquals(5, u16(entry(2) + DESC_ID_OFFSET));
        assertEquals(3, u16(FREE_HEAD_OFFSET));
        assertEquals(3, u16(OLD_FREE_HEAD_OFFSET));

        MemorySegment copy = arena.allocate(PackedRing.descBytes(SIZE), 16);
        assertEquals(5, q.copyChain(head, copy), "the buffer id is the last descriptor's");
        assertEquals(0x3000, copy.get(LE_LONG, PackedRingLayout.descOffset(2) + PackedRingLayout.DESC_ADDR_OFFSET));
        assertEquals(PackedRingLayout.VIRTQ_DESC_F_NEXT | PackedRingLayout.VIRTQ_DESC_F_WRITE | PackedRingLayout.availFlags(true),
                Short.toUnsignedInt(copy.get(LE_SHORT, PackedRingLayout.descOffset(1) + PackedRingLayout.DESC_FLAGS_OFFSET)));
    }

    /**
     * A (3 slots) and B (1 slot) taken, B completed first: its used descriptor overwrote A's head
     * slot. The next back-end takes A again from the area's copy, its used position is after B's,
     * its avail position after A's slots.
     */
    @Test
    void aChainStillInFlightIsResubmittedFromItsCopyAfterALaterOneCompleted() {
        PackedInflightQueue q = started();
        int a = takeChain(q, 0, 3, 4);
        int b = takeChain(q, 3, 1, 6);
        complete(q, b, 0, 6, true);
        assertFalse(q.isInflight(b));
        assertTrue(q.isInflight(a));

        PackedInflightQueue next = new PackedInflightQueue(region, SIZE);
        PackedInflightQueue.Restart r = next.start(ring, 7, false); // SET_VRING_BASE is not what counts
        assertEquals(new PackedInflightQueue.Restart(1, true, List.of(a), 3), r);
        MemorySegment copy = arena.allocate(PackedRing.descBytes(SIZE), 16);
        assertEquals(4, next.copyChain(a, copy));
        assertEquals(0x50000L, copy.get(LE_LONG, PackedRingLayout.descOffset(0) + PackedRingLayout.DESC_ADDR_OFFSET),
                "A's head, overwritten in the ring by B's used descriptor, comes from the area");
    }

    @Test
    void chainsComeBackInTheOrderTheyWereTaken() {
        PackedInflightQueue q = started();
        int a = takeChain(q, 0, 1, 0);
        int b = takeChain(q, 1, 2, 1);
        int c = takeChain(q, 3, 1, 2);
        complete(q, a, 0, 0, true);
        int d = takeChain(q, 4, 1, 3); // takes A's freed entry
        assertEquals(a, d, "the free list gives A's entry back first");
        PackedInflightQueue.Restart r = new PackedInflightQueue(region, SIZE).start(ring, 0, true);
        assertEquals(List.of(b, c, d), r.resubmit());
        assertEquals(4, r.resubmitSlots());
        assertEquals(1, r.usedSlot());
    }

    @Test
    void aCompletionWhoseUsedDescriptorReachedTheRingIsCommitted() {
        PackedInflightQueue q = started();
        int a = takeChain(q, 0, 2, 3);
        q.beforeUsed(a);
        ring.writeUsed(0, 3, 0, true); // the driver has it...
        // ...and the process died before afterUsed
        PackedInflightQueue.Restart r = new PackedInflightQueue(region, SIZE).start(ring, 0, true);
        assertEquals(new PackedInflightQueue.Restart(2, true, List.of(), 0), r);
        assertFalse(new PackedInflightQueue(region, SIZE).isInflight(a));
    }

    @Test
    void aCompletionThatDidNotReachTheRingIsRolledBack() {
        PackedInflightQueue q = started();
        int a = takeChain(q, 0, 2, 3);
        q.beforeUsed(a); // died here: the slot still holds A's available head
        PackedInflightQueue.Restart r = new PackedInflightQueue(region, SIZE).start(ring, 0, true);
        assertEquals(new PackedInflightQueue.Restart(0, true, List.of(a), 2), r);
        assertEquals(2, u16(FREE_HEAD_OFFSET), "the free list as before the completion");
    }

    @Test
    void aChainHalfRecordedWhenTheProcessDiedIsNotInFlight() {
        PackedInflightQueue q = started();
        takeChain(q, 0, 1, 0);
        int oldFree = u16(OLD_FREE_HEAD_OFFSET);
        region.set(ValueLayout.JAVA_BYTE, entry(oldFree) + DESC_INFLIGHT_OFFSET, (byte) 1); // step 2c of the next chain, then death
        PackedInflightQueue.Restart r = new PackedInflightQueue(region, SIZE).start(ring, 0, true);
        assertEquals(List.of(0), r.resubmit());
        assertFalse(new PackedInflightQueue(region, SIZE).isInflight(oldFree));
    }

    @Test
    void usedPositionWrapsWithItsCounter() {
        PackedInflightQueue q = started();
        for (int i = 0; i < 3; i++) {
            int e = takeChain(q, i * 3 % SIZE, 3, i);
            complete(q, e, i * 3 % SIZE, i, i * 3 < SIZE);
        }
        PackedInflightQueue.Restart r = new PackedInflightQueue(region, SIZE).start(ring, 0, true);
        assertEquals(1, r.usedSlot());
        assertFalse(r.usedWrap(), "9 slots into a ring of 8: the second lap");
    }

    @Test
    void aRegionTheFrontEndScribbledOnIsRefusedByField() {
        PackedInflightQueue q = started();
        int a = takeChain(q, 0, 2, 1);
        region.set(LE_SHORT, OLD_USED_IDX_OFFSET, (short) 500);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new PackedInflightQueue(region, SIZE).start(ring, 0, true));
        assertEquals("packed inflight region: old_used_idx is 500, the queue size is 8", e.getMessage());

        region.set(LE_SHORT, OLD_USED_IDX_OFFSET, (short) 0);
        region.set(LE_SHORT, entry(a) + DESC_NUM_ENTRIES_OFFSET, (short) 0);
        e = assertThrows(IllegalArgumentException.class, () -> new PackedInflightQueue(region, SIZE).start(ring, 0, true));
        assertEquals("packed inflight region: num of entry 0 is 0, the queue size is 8", e.getMessage());

        region.set(LE_SHORT, entry(a) + DESC_NUM_ENTRIES_OFFSET, (short) 2);
        region.set(LE_SHORT, entry(a) + DESC_LAST_OFFSET, (short) 6);
        e = assertThrows(IllegalArgumentException.class, () -> new PackedInflightQueue(region, SIZE).start(ring, 0, true));
        assertTrue(e.getMessage().contains("the chain of entry 0 (num 2) ends at entry 1, but its last says 6"), e.getMessage());

        region.set(LE_SHORT, entry(a) + DESC_LAST_OFFSET, (short) 1);
        region.set(LE_SHORT, entry(5) + DESC_NEXT_OFFSET, (short) 3); // 3 -> 4 -> 5 -> 3
        region.set(LE_SHORT, FREE_HEAD_OFFSET, (short) 3);
        region.set(LE_SHORT, OLD_FREE_HEAD_OFFSET, (short) 3);
        e = assertThrows(IllegalArgumentException.class, () -> new PackedInflightQueue(region, SIZE).start(ring, 0, true));
        assertTrue(e.getMessage().contains("has a loop"), e.getMessage());

        region.set(LE_SHORT, DESC_NUM_OFFSET, (short) 16);
        e = assertThrows(IllegalArgumentException.class, () -> new PackedInflightQueue(region, SIZE).start(ring, 0, true));
        assertEquals("packed inflight region: desc_num is 16, the queue size is 8", e.getMessage());

        region.set(LE_SHORT, DESC_NUM_OFFSET, (short) SIZE);
        region.set(LE_SHORT, OLD_FREE_HEAD_OFFSET, (short) 9);
        PackedInflightQueue broken = new PackedInflightQueue(region, SIZE);
        e = assertThrows(IllegalArgumentException.class, () -> broken.taken(descRing, SIZE, 2, 1));
        assertEquals("packed inflight region: old_free_head is 9, the queue size is 8", e.getMessage());
    }

    // ------------------------------------------------------------------ helpers

    private PackedInflightQueue started() {
        PackedInflightQueue q = new PackedInflightQueue(region, SIZE);
        q.start(ring, 0, true);
        return q;
    }

    /** Makes {@code slots} descriptors available from {@code slot} (buffer id on the last) and records them. */
    private int takeChain(PackedInflightQueue q, int slot, int slots, int id) {
        for (int j = 0; j < slots; j++) {
            int s = (slot + j) % SIZE;
            boolean last = j == slots - 1;
            avail(s, 0x10000L * (id + 1) + j * 0x100, 512, last ? id : 0, last ? 0 : PackedRingLayout.VIRTQ_DESC_F_NEXT);
        }
        return q.taken(descRing, SIZE, slot, slots);
    }

    private void complete(PackedInflightQueue q, int head, int usedSlot, int id, boolean wrap) {
        q.beforeUsed(head);
        ring.writeUsed(usedSlot, id, 0, wrap);
        q.afterUsed(head);
    }

    private void avail(int slot, long addr, int len, int id, int flags) {
        long off = PackedRingLayout.descOffset(slot);
        descRing.set(LE_LONG, off + PackedRingLayout.DESC_ADDR_OFFSET, addr);
        descRing.set(LE_INT, off + PackedRingLayout.DESC_LEN_OFFSET, len);
        descRing.set(LE_SHORT, off + PackedRingLayout.DESC_ID_OFFSET, (short) id);
        descRing.set(LE_SHORT, off + PackedRingLayout.DESC_FLAGS_OFFSET, (short) (flags | PackedRingLayout.availFlags(true)));
    }

    private int u16(long offset) {
        return Short.toUnsignedInt(region.get(LE_SHORT, offset));
    }

    private static long entry(int i) {
        return HEADER_SIZE + (long) i * DESC_STATE_SIZE;
    }
}
