package io.jvirtio.bench.device;

import io.jvirtio.spec.ring.SplitRingLayout;

import java.lang.invoke.VarHandle;

import static io.jvirtio.bench.device.DeviceMemory.ALL;
import static io.jvirtio.spec.ring.SplitRingLayout.AVAIL_IDX_OFFSET;
import static io.jvirtio.spec.ring.SplitRingLayout.DESC_ADDR_OFFSET;
import static io.jvirtio.spec.ring.SplitRingLayout.DESC_FLAGS_OFFSET;
import static io.jvirtio.spec.ring.SplitRingLayout.DESC_LEN_OFFSET;
import static io.jvirtio.spec.ring.SplitRingLayout.DESC_NEXT_OFFSET;
import static io.jvirtio.spec.ring.SplitRingLayout.DESC_SIZE;
import static io.jvirtio.spec.ring.SplitRingLayout.LE_INT;
import static io.jvirtio.spec.ring.SplitRingLayout.LE_LONG;
import static io.jvirtio.spec.ring.SplitRingLayout.LE_SHORT;
import static io.jvirtio.spec.ring.SplitRingLayout.RING_INDEX_MASK;
import static io.jvirtio.spec.ring.SplitRingLayout.USED_ELEMENT_ID_OFFSET;
import static io.jvirtio.spec.ring.SplitRingLayout.USED_ELEMENT_LEN_OFFSET;
import static io.jvirtio.spec.ring.SplitRingLayout.USED_IDX_OFFSET;
import static io.jvirtio.spec.ring.SplitRingLayout.VRING_DESC_F_INDIRECT;
import static io.jvirtio.spec.ring.SplitRingLayout.VRING_DESC_F_NEXT;
import static io.jvirtio.spec.ring.SplitRingLayout.VRING_DESC_F_WRITE;

/**
 * The device side of one split virtqueue, run by whoever calls {@link #process} (the benchmarks call it
 * from the driver's kick, on the driver's thread): pops every available chain, follows NEXT chains and
 * INDIRECT tables, hands each to a {@link ChainHandler} and publishes the used elements in one batch.
 * It always wants kicks (used.flags 0; with EVENT_IDX, avail_event follows what it consumed), and never
 * interrupts: the driver polls.
 *
 * <p>Unlike the virtio-core test fixture {@code SimulatedDevice} it allocates nothing per request, so a
 * benchmark whose device completes on the benchmark thread charges the thread only the driver's
 * allocations. It checks the driver enough to fail loudly (head or next out of range, a loop, INDIRECT
 * with NEXT, readable after writable), not as strictly as that fixture.
 */
public final class InlineSplitRing {
    /** What the device does with one chain. */
    @FunctionalInterface
    public interface ChainHandler {
        /**
         * @param chain the chain's buffers, valid during the call only
         * @return bytes written into the writable buffers (the used element's len)
         */
        int handle(DeviceChain chain);
    }

    private static final VarHandle RING_INDEX = LE_SHORT.varHandle().withInvokeExactBehavior();

    private final int size;
    private final int mask;
    private final boolean eventIdx;
    private final long desc;
    private final long avail;
    private final long used;
    private final long availEvent;
    private final DeviceChain chain;

    private int lastAvail;
    private int usedIdx;
    private long completed;

    /**
     * @param size         the queue size
     * @param descAddress  the descriptor table's address
     * @param availAddress the avail ring's address
     * @param usedAddress  the used ring's address
     * @param availIndex   the avail index to start from
     * @param eventIdx     whether VIRTIO_RING_F_EVENT_IDX was negotiated
     * @param maxBuffers   the longest chain accepted
     */
    public InlineSplitRing(int size, long descAddress, long availAddress, long usedAddress, int availIndex, boolean eventIdx,
                           int maxBuffers) {
        if (!SplitRingLayout.isValidSize(size)) {
            throw new IllegalArgumentException("queue size " + size);
        }
        this.size = size;
        this.mask = size - 1;
        this.eventIdx = eventIdx;
        this.desc = descAddress;
        this.avail = availAddress;
        this.used = usedAddress;
        this.availEvent = usedAddress + SplitRingLayout.availEventOffset(size);
        this.chain = new DeviceChain(maxBuffers);
        this.lastAvail = availIndex & RING_INDEX_MASK;
        this.usedIdx = (short) RING_INDEX.getAcquire(ALL, used + USED_IDX_OFFSET) & RING_INDEX_MASK;
    }

    /**
     * Handles every chain the driver made available, including any it adds meanwhile.
     *
     * @return chains completed
     * @throws IllegalStateException if the driver broke the ring's rules
     */
    public int process(ChainHandler handler) {
        int done = 0;
        while (true) {
            int availIdx = (short) RING_INDEX.getAcquire(ALL, avail + AVAIL_IDX_OFFSET) & RING_INDEX_MASK;
            int pending = (availIdx - lastAvail) & RING_INDEX_MASK;
            if (pending == 0) {
                return done;
            }
            if (pending > size) {
                throw new IllegalStateException("driver published " + pending + " avail entries, queue size " + size);
            }
            for (int i = 0; i < pending; i++) {
                int head = ALL.get(LE_SHORT, avail + SplitRingLayout.availRingOffset(lastAvail & mask)) & RING_INDEX_MASK;
                lastAvail = (lastAvail + 1) & RING_INDEX_MASK;
                collect(head);
                int len = handler.handle(chain);
                long element = used + SplitRingLayout.usedRingOffset(usedIdx & mask);
                ALL.set(LE_INT, element + USED_ELEMENT_ID_OFFSET, head);
                ALL.set(LE_INT, element + USED_ELEMENT_LEN_OFFSET, len);
                usedIdx = (usedIdx + 1) & RING_INDEX_MASK;
            }
            RING_INDEX.setRelease(ALL, used + USED_IDX_OFFSET, (short) usedIdx);
            if (eventIdx) {
                RING_INDEX.setRelease(ALL, availEvent, (short) lastAvail);
            }
            // the driver's avail.idx store may have crossed our avail_event store: look again
            VarHandle.fullFence();
            done += pending;
            completed += pending;
        }
    }

    /** @return chains completed since creation */
    public long completed() {
        return completed;
    }

    private void collect(int head) {
        chain.reset();
        if (head >= size) {
            throw new IllegalStateException("driver put head " + head + " in the avail ring, queue size " + size);
        }
        int d = head;
        for (int hops = 0; ; hops++) {
            long at = desc + SplitRingLayout.descOffset(d);
            long addr = ALL.get(LE_LONG, at + DESC_ADDR_OFFSET);
            int len = ALL.get(LE_INT, at + DESC_LEN_OFFSET);
            int flags = ALL.get(LE_SHORT, at + DESC_FLAGS_OFFSET) & 0xFFFF;
            int next = ALL.get(LE_SHORT, at + DESC_NEXT_OFFSET) & 0xFFFF;
            if ((flags & VRING_DESC_F_INDIRECT) != 0) {
                if (hops != 0 || (flags & VRING_DESC_F_NEXT) != 0) {
                    throw new IllegalStateException("chain at head " + head + ": INDIRECT not alone in its chain");
                }
                collectIndirect(head, addr, len);
                return;
            }
            chain.add(addr, len, (flags & VRING_DESC_F_WRITE) != 0, head);
            if ((flags & VRING_DESC_F_NEXT) == 0) {
                return;
            }
            if (next >= size || hops + 1 >= size) {
                throw new IllegalStateException("chain at head " + head + ": next " + next + " out of range or a loop");
            }
            d = next;
        }
    }

    private void collectIndirect(int head, long table, int bytes) {
        int n = bytes / DESC_SIZE;
        if (n == 0 || bytes % DESC_SIZE != 0) {
            throw new IllegalStateException("chain at head " + head + ": indirect table of " + bytes + " bytes");
        }
        int d = 0;
        for (int hops = 0; ; hops++) {
            long at = table + (long) d * DESC_SIZE;
            int flags = ALL.get(LE_SHORT, at + DESC_FLAGS_OFFSET) & 0xFFFF;
            if ((flags & VRING_DESC_F_INDIRECT) != 0) {
                throw new IllegalStateException("chain at head " + head + ": nested INDIRECT");
            }
            chain.add(ALL.get(LE_LONG, at + DESC_ADDR_OFFSET), ALL.get(LE_INT, at + DESC_LEN_OFFSET),
                    (flags & VRING_DESC_F_WRITE) != 0, head);
            if ((flags & VRING_DESC_F_NEXT) == 0) {
                return;
            }
            int next = ALL.get(LE_SHORT, at + DESC_NEXT_OFFSET) & 0xFFFF;
            if (next >= n || hops + 1 >= n) {
                throw new IllegalStateException("chain at head " + head + ": indirect next " + next + " out of range or a loop");
            }
            d = next;
        }
    }
}
