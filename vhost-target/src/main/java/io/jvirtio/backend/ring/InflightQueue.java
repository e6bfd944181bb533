package io.jvirtio.backend.ring;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import static io.jvirtio.spec.ring.SplitRingLayout.LE_LONG;
import static io.jvirtio.spec.ring.SplitRingLayout.LE_SHORT;

/**
 * One queue's part of the INFLIGHT_SHMFD region, in QEMU's format for split rings
 * ({@code QueueRegionSplit}, vhost-user.rst "Inflight I/O tracking"): a 16-byte header
 * ({@code features u64, version u16, desc_num u16, last_batch_head u16, used_idx u16}) then one
 * 16-byte {@code DescStateSplit} per descriptor ({@code inflight u8, padding[5], next u16,
 * counter u64}). The front-end keeps the region across a back-end restart, so a new back-end can
 * resubmit what the old one had popped but not completed.
 */
public final class InflightQueue {
    public static final int FEATURES_OFFSET = 0;
    public static final int VERSION_OFFSET = 8;
    public static final int DESC_NUM_OFFSET = 10;
    public static final int LAST_BATCH_HEAD_OFFSET = 12;
    public static final int USED_IDX_OFFSET = 14;
    public static final int HEADER_SIZE = 16;
    public static final int DESC_STATE_SIZE = 16;
    public static final int DESC_INFLIGHT_OFFSET = 0;
    public static final int DESC_NEXT_OFFSET = 6;
    public static final int DESC_COUNTER_OFFSET = 8;
    /** {@code INFLIGHT_VERSION}. */
    public static final int INFLIGHT_VERSION = 1;
    /** Each queue's region is aligned to a cache line ({@code INFLIGHT_ALIGNMENT}). */
    public static final int INFLIGHT_ALIGNMENT = 64;

    private final MemorySegment region;
    private final int size;
    private long counter;

    /**
     * @param region this queue's bytes of the inflight area
     * @param size   the queue size
     */
    public InflightQueue(MemorySegment region, int size) {
        if (region.byteSize() < HEADER_SIZE + (long) DESC_STATE_SIZE * size) {
            throw new IllegalArgumentException("inflight region of " + region.byteSize() + " bytes too small for queue size " + size);
        }
        this.region = region;
        this.size = size;
    }

    /**
     * @return the bytes one queue of {@code queueSize} takes, as DPDK computes it (header plus states,
     *         aligned to 64); for sizes that are multiples of 4 it equals libvhost-user's
     *         {@code vu_inflight_queue_size}
     */
    public static long bytesPerQueue(int queueSize) {
        long raw = HEADER_SIZE + (long) DESC_STATE_SIZE * queueSize;
        return (raw + INFLIGHT_ALIGNMENT - 1) & -INFLIGHT_ALIGNMENT;
    }

    private long desc(int head) {
        return HEADER_SIZE + (long) head * DESC_STATE_SIZE;
    }

    /**
     * Prepares the region at queue start. A fresh region (version 0) is initialised; a used one is
     * repaired as the spec's "When reconnecting" says and its in-flight heads are returned, oldest
     * first, for resubmission.
     *
     * @param ringUsedIdx the used ring's idx as the driver sees it now
     * @return heads to resubmit, in the order they were first popped
     */
    List<Integer> start(int ringUsedIdx) {
        int version = Short.toUnsignedInt(region.get(LE_SHORT, VERSION_OFFSET));
        if (version == 0) {
            region.fill((byte) 0);
            region.set(LE_SHORT, VERSION_OFFSET, (short) INFLIGHT_VERSION);
            region.set(LE_SHORT, DESC_NUM_OFFSET, (short) size);
            region.set(LE_SHORT, USED_IDX_OFFSET, (short) ringUsedIdx);
            counter = 0;
            return List.of();
        }
        int usedIdx = Short.toUnsignedInt(region.get(LE_SHORT, USED_IDX_OFFSET));
        if (usedIdx != ringUsedIdx) {
            // the old back-end published the last batch but died before clearing its inflight flags
            int last = Short.toUnsignedInt(region.get(LE_SHORT, LAST_BATCH_HEAD_OFFSET));
            if (last < size) {
                region.set(ValueLayout.JAVA_BYTE, desc(last) + DESC_INFLIGHT_OFFSET, (byte) 0);
            }
            region.set(LE_SHORT, USED_IDX_OFFSET, (short) ringUsedIdx);
        }
        List<long[]> found = new ArrayList<>();
        for (int i = 0; i < size; i++) {
            if (region.get(ValueLayout.JAVA_BYTE, desc(i) + DESC_INFLIGHT_OFFSET) != 0) {
                found.add(new long[] {i, region.get(LE_LONG, desc(i) + DESC_COUNTER_OFFSET)});
            }
        }
        found.sort(Comparator.comparingLong(a -> a[1]));
        List<Integer> heads = new ArrayList<>(found.size());
        long max = -1;
        for (long[] f : found) {
            heads.add((int) f[0]);
            max = Math.max(max, f[1]);
        }
        counter = max + 1;
        return heads;
    }

    /** Marks {@code head} popped (in flight). */
    void popped(int head) {
        region.set(LE_LONG, desc(head) + DESC_COUNTER_OFFSET, counter++);
        region.set(ValueLayout.JAVA_BYTE, desc(head) + DESC_INFLIGHT_OFFSET, (byte) 1);
    }

    /** Before {@code head} is published on the used ring. */
    void prePut(int head) {
        region.set(LE_SHORT, LAST_BATCH_HEAD_OFFSET, (short) head);
    }

    /** After used.idx was published as {@code usedIdx}. */
    void postPut(int head, int usedIdx) {
        region.set(ValueLayout.JAVA_BYTE, desc(head) + DESC_INFLIGHT_OFFSET, (byte) 0);
        region.set(LE_SHORT, USED_IDX_OFFSET, (short) usedIdx);
    }

    /** @return whether {@code head} is marked in flight (for tests and logs) */
    public boolean isInflight(int head) {
        return region.get(ValueLayout.JAVA_BYTE, desc(head) + DESC_INFLIGHT_OFFSET) != 0;
    }
}
