package io.jvirtio.core.ring;

/**
 * The driver's private free list of descriptor indices, linked through an {@code int[]} kept in Java.
 * The {@code next} links of a taken chain stay intact until it is given back, so they are also the
 * driver's shadow of each request's chain: the device-visible descriptor table is written, never read,
 * because a device could scribble on it (SPDK's {@code vq_descx}, Linux's {@code desc_extra}).
 */
final class DescriptorFreeList {
    /** End of a chain / of the free list. */
    static final int NO_DESC = -1;

    private final int[] next;
    private int head;
    private int free;

    DescriptorFreeList(int size) {
        next = new int[size];
        reset();
    }

    /** Makes every descriptor free again, in index order. */
    void reset() {
        for (int i = 0; i < next.length; i++) {
            next[i] = i + 1;
        }
        next[next.length - 1] = NO_DESC;
        head = 0;
        free = next.length;
    }

    /** @return how many descriptors are free */
    int free() {
        return free;
    }

    /**
     * @param desc a descriptor in a taken chain
     * @return the descriptor after it in its chain, or {@link #NO_DESC} at the end
     */
    int next(int desc) {
        return next[desc];
    }

    /**
     * Detaches a chain of {@code count} descriptors; the caller checked {@link #free()} first.
     *
     * @param count how many, at least 1
     * @return the first descriptor; follow {@link #next(int)} for the rest, the last links to {@link #NO_DESC}
     */
    int take(int count) {
        int first = head;
        int last = first;
        for (int i = 1; i < count; i++) {
            last = next[last];
        }
        head = next[last];
        next[last] = NO_DESC;
        free -= count;
        return first;
    }

    /**
     * Cuts a taken chain after {@code desc}: the chain now ends there.
     *
     * @param desc a descriptor of a taken chain
     * @return the descriptors that followed it (a chain on its own), or {@link #NO_DESC}
     */
    int cutAfter(int desc) {
        int rest = next[desc];
        next[desc] = NO_DESC;
        return rest;
    }

    /**
     * Gives back a taken chain.
     *
     * @param first its first descriptor
     * @param count its length, as taken (walked to find its end, so bounded by our own bookkeeping)
     */
    void give(int first, int count) {
        int last = first;
        for (int i = 1; i < count; i++) {
            last = next[last];
        }
        next[last] = head;
        head = first;
        free += count;
    }
}
