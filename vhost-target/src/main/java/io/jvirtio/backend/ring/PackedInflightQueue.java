package io.jvirtio.backend.ring;

import io.jvirtio.spec.ring.PackedRingLayout;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import static io.jvirtio.spec.ring.SplitRingLayout.LE_INT;
import static io.jvirtio.spec.ring.SplitRingLayout.LE_LONG;
import static io.jvirtio.spec.ring.SplitRingLayout.LE_SHORT;

/**
 * One queue's part of the INFLIGHT_SHMFD area in QEMU's format for packed rings
 * ({@code QueueRegionPacked}, vhost-user.rst "Inflight I/O tracking", DPDK's
 * {@code rte_vhost_inflight_info_packed}): a 32-byte header, then one 32-byte
 * {@code DescStatePacked} per ring slot. Unlike the split format it keeps a copy of every descriptor
 * the device took, because a packed ring's slots are overwritten by used descriptors of requests
 * that completed later: after a restart the chain is read from here, not from the ring.
 *
 * <p>Entries form a free list ({@code next}); a request takes as many entries as ring slots, its
 * head entry holding {@code inflight}, {@code num}, {@code last} and {@code counter}. The
 * {@code old_*} fields are the state at the last finished step: a back-end that dies in the middle
 * of a completion leaves {@code used_idx} ≠ {@code old_used_idx}, and the next one either commits
 * or rolls back that step by looking at the ring (see {@link #start}).
 *
 * <p>The area is front-end memory: every index read back from it is checked against the queue
 * size, and a bad one is an {@link IllegalArgumentException} naming the field and value (the caller
 * ends the session). Stores are ordered with release fences between the steps the spec orders, so
 * a process killed at any instruction leaves a state {@link #start} can repair.
 */
public final class PackedInflightQueue {
    /** {@code features} (u64). */
    public static final int FEATURES_OFFSET = 0;
    /** {@code version} (u16). */
    public static final int VERSION_OFFSET = 8;
    /** {@code desc_num} (u16). */
    public static final int DESC_NUM_OFFSET = 10;
    /** {@code free_head} (u16). */
    public static final int FREE_HEAD_OFFSET = 12;
    /** {@code old_free_head} (u16). */
    public static final int OLD_FREE_HEAD_OFFSET = 14;
    /** {@code used_idx} (u16): the device's used slot. */
    public static final int USED_IDX_OFFSET = 16;
    /** {@code old_used_idx} (u16). */
    public static final int OLD_USED_IDX_OFFSET = 18;
    /** {@code used_wrap_counter} (u8). */
    public static final int USED_WRAP_COUNTER_OFFSET = 20;
    /** {@code old_used_wrap_counter} (u8). */
    public static final int OLD_USED_WRAP_COUNTER_OFFSET = 21;
    /** The header's fields end at 29 ({@code padding[7]}); {@code desc[]} starts at the next 8-byte boundary. */
    public static final int HEADER_FIELDS_SIZE = 29;
    public static final int HEADER_SIZE = 32;

    /** {@code sizeof(DescStatePacked)}. */
    public static final int DESC_STATE_SIZE = 32;
    /** {@code inflight} (u8), head entries only. */
    public static final int DESC_INFLIGHT_OFFSET = 0;
    /** {@code next} (u16): the next free entry, and the next entry of a chain. */
    public static final int DESC_NEXT_OFFSET = 2;
    /** {@code last} (u16): the chain's last entry, head entries only. */
    public static final int DESC_LAST_OFFSET = 4;
    /** {@code num} (u16): the chain's length in ring slots, head entries only. */
    public static final int DESC_NUM_ENTRIES_OFFSET = 6;
    /** {@code counter} (u64): the order the device took the chains in, head entries only. */
    public static final int DESC_COUNTER_OFFSET = 8;
    /** {@code id} (u16): the descriptor's buffer id. */
    public static final int DESC_ID_OFFSET = 16;
    /** {@code flags} (u16): the descriptor's flags. */
    public static final int DESC_FLAGS_OFFSET = 18;
    /** {@code len} (u32). */
    public static final int DESC_LEN_OFFSET = 20;
    /** {@code addr} (u64). */
    public static final int DESC_ADDR_OFFSET = 24;

    /** {@code INFLIGHT_VERSION}. */
    public static final int INFLIGHT_VERSION = 1;
    /** Each queue's region is aligned to a cache line ({@code INFLIGHT_ALIGNMENT}). */
    public static final int INFLIGHT_ALIGNMENT = 64;

    private static final ValueLayout.OfByte U8 = ValueLayout.JAVA_BYTE;

    private final MemorySegment region;
    private final int size;
    private long counter;

    /**
     * @param region this queue's bytes of the inflight area
     * @param size   the queue size
     */
    public PackedInflightQueue(MemorySegment region, int size) {
        if (region.byteSize() < HEADER_SIZE + (long) DESC_STATE_SIZE * size) {
            throw new IllegalArgumentException("packed inflight region of " + region.byteSize() + " bytes too small for queue size " + size);
        }
        this.region = region;
        this.size = size;
    }

    /**
     * @return the bytes one queue of {@code queueSize} takes, as DPDK computes it
     *         ({@code get_pervq_shm_size_packed}: the states plus the header's fields, aligned to 64)
     */
    public static long bytesPerQueue(int queueSize) {
        long raw = (long) DESC_STATE_SIZE * queueSize + HEADER_FIELDS_SIZE;
        return (raw + INFLIGHT_ALIGNMENT - 1) & -INFLIGHT_ALIGNMENT;
    }

    /** Where the queue starts after {@link #start}: the used position, and the in-flight chains to take again. */
    record Restart(int usedSlot, boolean usedWrap, List<Integer> resubmit, int resubmitSlots) {
    }

    /**
     * Prepares the region at queue start. A fresh region (version 0) is initialised at the driver's
     * base; a used one is repaired as the spec's "When reconnecting" says: an interrupted completion
     * is committed when its used descriptor reached the ring (the slot at {@code old_used_idx} no
     * longer holds an available descriptor of that lap) and rolled back otherwise; the entries on the
     * free list are not in flight; the head entries still in flight come back oldest first.
     *
     * @param ring     the descriptor ring, for the commit-or-roll-back test
     * @param baseSlot the slot SET_VRING_BASE gave (used for a fresh region only)
     * @param baseWrap its wrap counter
     * @throws IllegalArgumentException naming a field of the region that is out of range
     */
    Restart start(PackedRing ring, int baseSlot, boolean baseWrap) {
        int version = u16(VERSION_OFFSET);
        if (version == 0) {
            region.fill((byte) 0);
            region.set(LE_SHORT, DESC_NUM_OFFSET, (short) size);
            for (int i = 0; i < size; i++) {
                region.set(LE_SHORT, desc(i) + DESC_NEXT_OFFSET, (short) (i + 1)); // the last one's next is size: the end
            }
            region.set(LE_SHORT, USED_IDX_OFFSET, (short) baseSlot);
            region.set(LE_SHORT, OLD_USED_IDX_OFFSET, (short) baseSlot);
            region.set(U8, USED_WRAP_COUNTER_OFFSET, (byte) (baseWrap ? 1 : 0));
            region.set(U8, OLD_USED_WRAP_COUNTER_OFFSET, (byte) (baseWrap ? 1 : 0));
            VarHandle.releaseFence();
            region.set(LE_SHORT, VERSION_OFFSET, (short) INFLIGHT_VERSION);
            counter = 0;
            return new Restart(baseSlot, baseWrap, List.of(), 0);
        }
        int descNum = u16(DESC_NUM_OFFSET);
        if (descNum != size) {
            throw bad("desc_num", descNum);
        }
        int oldUsed = index(OLD_USED_IDX_OFFSET, "old_used_idx");
        boolean oldWrap = region.get(U8, OLD_USED_WRAP_COUNTER_OFFSET) != 0;
        int used = index(USED_IDX_OFFSET, "used_idx");
        boolean wrap = region.get(U8, USED_WRAP_COUNTER_OFFSET) != 0;
        if (used != oldUsed || wrap != oldWrap) {
            // A completion was under way. Its used descriptor went to the slot at old_used_idx: if that slot
            // no longer shows an available descriptor of old_used's lap, the driver has it, so commit.
            if (!ring.isAvail(oldUsed, oldWrap)) {
                region.set(LE_SHORT, OLD_FREE_HEAD_OFFSET, region.get(LE_SHORT, FREE_HEAD_OFFSET));
                region.set(LE_SHORT, OLD_USED_IDX_OFFSET, (short) used);
                region.set(U8, OLD_USED_WRAP_COUNTER_OFFSET, (byte) (wrap ? 1 : 0));
            }
        }
        // Roll back whatever is not committed.
        region.set(LE_SHORT, FREE_HEAD_OFFSET, region.get(LE_SHORT, OLD_FREE_HEAD_OFFSET));
        region.set(LE_SHORT, USED_IDX_OFFSET, region.get(LE_SHORT, OLD_USED_IDX_OFFSET));
        region.set(U8, USED_WRAP_COUNTER_OFFSET, region.get(U8, OLD_USED_WRAP_COUNTER_OFFSET));
        int usedSlot = index(USED_IDX_OFFSET, "used_idx");
        boolean usedWrap = region.get(U8, USED_WRAP_COUNTER_OFFSET) != 0;

        // Nothing on the free list is in flight (a chain being recorded when the process died is there).
        int e = u16(FREE_HEAD_OFFSET);
        for (int steps = 0; e < size; steps++) {
            if (steps == size) {
                throw new IllegalArgumentException("packed inflight region: the free list from free_head " + u16(FREE_HEAD_OFFSET)
                        + " has a loop");
            }
            region.set(U8, desc(e) + DESC_INFLIGHT_OFFSET, (byte) 0);
            e = u16(desc(e) + DESC_NEXT_OFFSET);
        }

        List<long[]> found = new ArrayList<>();
        for (int i = 0; i < size; i++) {
            if (region.get(U8, desc(i) + DESC_INFLIGHT_OFFSET) != 0) {
                found.add(new long[] {i, region.get(LE_LONG, desc(i) + DESC_COUNTER_OFFSET)});
            }
        }
        found.sort(Comparator.comparingLong(a -> a[1]));
        List<Integer> heads = new ArrayList<>(found.size());
        long max = -1;
        int slots = 0;
        for (long[] f : found) {
            int head = (int) f[0];
            slots += checkChain(head);
            heads.add(head);
            max = Math.max(max, f[1]);
        }
        if (slots > size) {
            throw new IllegalArgumentException("packed inflight region: " + heads.size() + " chains in flight take " + slots
                    + " slots, more than the ring of " + size);
        }
        counter = max + 1;
        return new Restart(usedSlot, usedWrap, heads, slots);
    }

    /** @return the chain's slot count, after checking num, last and every next link of the chain */
    private int checkChain(int head) {
        int num = u16(desc(head) + DESC_NUM_ENTRIES_OFFSET);
        if (num < 1 || num > size) {
            throw bad("num of entry " + head, num);
        }
        int last = u16(desc(head) + DESC_LAST_OFFSET);
        int e = head;
        for (int j = 1; j < num; j++) {
            e = u16(desc(e) + DESC_NEXT_OFFSET);
            if (e >= size) {
                throw bad("next in the chain of entry " + head, e);
            }
        }
        if (e != last) {
            throw new IllegalArgumentException("packed inflight region: the chain of entry " + head + " (num " + num + ") ends at entry " + e
                    + ", but its last says " + last);
        }
        return num;
    }

    /**
     * Records a chain the device takes ("When receiving available buffers"): {@code slots}
     * descriptors from {@code slot}, copied with their id, flags, len and addr.
     *
     * @return the chain's head entry, to pass to {@link #beforeUsed} and {@link #afterUsed}
     * @throws IllegalArgumentException when the free list in the area was corrupted
     */
    int taken(MemorySegment descRing, int ringSize, int slot, int slots) {
        int head = u16(OLD_FREE_HEAD_OFFSET);
        if (head >= size) {
            throw bad("old_free_head", head);
        }
        long h = desc(head);
        region.set(LE_SHORT, h + DESC_NUM_ENTRIES_OFFSET, (short) 0);
        region.set(LE_LONG, h + DESC_COUNTER_OFFSET, counter++);
        region.set(U8, h + DESC_INFLIGHT_OFFSET, (byte) 1);
        int free = head;
        int s = slot;
        for (int j = 0; j < slots; j++) {
            if (free >= size) {
                throw bad("free_head while recording a chain of " + slots, free);
            }
            long d = desc(free);
            long r = PackedRingLayout.descOffset(s);
            region.set(LE_SHORT, d + DESC_ID_OFFSET, descRing.get(LE_SHORT, r + PackedRingLayout.DESC_ID_OFFSET));
            region.set(LE_SHORT, d + DESC_FLAGS_OFFSET, descRing.get(LE_SHORT, r + PackedRingLayout.DESC_FLAGS_OFFSET));
            region.set(LE_INT, d + DESC_LEN_OFFSET, descRing.get(LE_INT, r + PackedRingLayout.DESC_LEN_OFFSET));
            region.set(LE_LONG, d + DESC_ADDR_OFFSET, descRing.get(LE_LONG, r + PackedRingLayout.DESC_ADDR_OFFSET));
            region.set(LE_SHORT, h + DESC_NUM_ENTRIES_OFFSET, (short) (j + 1));
            region.set(LE_SHORT, h + DESC_LAST_OFFSET, (short) free);
            free = u16(d + DESC_NEXT_OFFSET);
            region.set(LE_SHORT, FREE_HEAD_OFFSET, (short) free);
            if (++s == ringSize) {
                s = 0;
            }
        }
        VarHandle.releaseFence();
        region.set(LE_SHORT, OLD_FREE_HEAD_OFFSET, (short) free);
        return head;
    }

    /** Before the chain's used descriptor is written: its entries back on the free list, the used position moved on. */
    void beforeUsed(int head) {
        long h = desc(head);
        int last = u16(h + DESC_LAST_OFFSET);
        int num = u16(h + DESC_NUM_ENTRIES_OFFSET);
        if (last >= size) {
            throw bad("last of entry " + head, last);
        }
        region.set(LE_SHORT, desc(last) + DESC_NEXT_OFFSET, region.get(LE_SHORT, FREE_HEAD_OFFSET));
        region.set(LE_SHORT, FREE_HEAD_OFFSET, (short) head);
        int used = u16(USED_IDX_OFFSET) + num;
        if (used >= size) {
            used -= size;
            region.set(U8, USED_WRAP_COUNTER_OFFSET, (byte) (region.get(U8, USED_WRAP_COUNTER_OFFSET) ^ 1));
        }
        region.set(LE_SHORT, USED_IDX_OFFSET, (short) used);
        VarHandle.releaseFence();
    }

    /** After the chain's used descriptor is in the ring: not in flight, and the step committed. */
    void afterUsed(int head) {
        VarHandle.releaseFence();
        region.set(U8, desc(head) + DESC_INFLIGHT_OFFSET, (byte) 0);
        VarHandle.releaseFence();
        region.set(LE_SHORT, OLD_FREE_HEAD_OFFSET, region.get(LE_SHORT, FREE_HEAD_OFFSET));
        region.set(LE_SHORT, OLD_USED_IDX_OFFSET, region.get(LE_SHORT, USED_IDX_OFFSET));
        region.set(U8, OLD_USED_WRAP_COUNTER_OFFSET, region.get(U8, USED_WRAP_COUNTER_OFFSET));
    }

    /**
     * Copies a recorded chain into {@code into} as packed ring descriptors (slot 0 on), for
     * {@link PackedChainReader#fill} to read.
     *
     * @return the buffer id (its last descriptor's)
     */
    int copyChain(int head, MemorySegment into) {
        int num = slotsOf(head); // read again: the front-end may have written the area since start
        int e = head;
        int id = 0;
        for (int j = 0; j < num; j++) {
            if (e >= size) {
                throw bad("next in the chain of entry " + head, e);
            }
            long d = desc(e);
            long r = PackedRingLayout.descOffset(j);
            into.set(LE_LONG, r + PackedRingLayout.DESC_ADDR_OFFSET, region.get(LE_LONG, d + DESC_ADDR_OFFSET));
            into.set(LE_INT, r + PackedRingLayout.DESC_LEN_OFFSET, region.get(LE_INT, d + DESC_LEN_OFFSET));
            into.set(LE_SHORT, r + PackedRingLayout.DESC_ID_OFFSET, region.get(LE_SHORT, d + DESC_ID_OFFSET));
            into.set(LE_SHORT, r + PackedRingLayout.DESC_FLAGS_OFFSET, region.get(LE_SHORT, d + DESC_FLAGS_OFFSET));
            id = u16(d + DESC_ID_OFFSET);
            e = u16(d + DESC_NEXT_OFFSET);
        }
        return id;
    }

    /** @return the chain's length in ring slots */
    int slotsOf(int head) {
        int num = u16(desc(head) + DESC_NUM_ENTRIES_OFFSET);
        if (num < 1 || num > size) {
            throw bad("num of entry " + head, num);
        }
        return num;
    }

    /** @return whether head entry {@code head} is marked in flight (for tests and logs) */
    public boolean isInflight(int head) {
        return region.get(U8, desc(head) + DESC_INFLIGHT_OFFSET) != 0;
    }

    private static long desc(int entry) {
        return HEADER_SIZE + (long) entry * DESC_STATE_SIZE;
    }

    private int u16(long offset) {
        return Short.toUnsignedInt(region.get(LE_SHORT, offset));
    }

    private int index(long offset, String field) {
        int v = u16(offset);
        if (v >= size) {
            throw bad(field, v);
        }
        return v;
    }

    private IllegalArgumentException bad(String field, int value) {
        return new IllegalArgumentException("packed inflight region: " + field + " is " + value + ", the queue size is " + size);
    }
}
