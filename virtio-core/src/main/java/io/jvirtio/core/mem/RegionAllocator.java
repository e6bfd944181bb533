package io.jvirtio.core.mem;

import java.util.Map;
import java.util.TreeMap;

/**
 * First-fit allocator over one region's offsets, with coalescing on free. Not on the I/O path:
 * rings, request headers and I/O buffers are allocated at setup and reused.
 */
final class RegionAllocator {
    private final long capacity;
    /** free extents: offset → length, non-adjacent (adjacent ones are merged on free) */
    private final TreeMap<Long, Long> free = new TreeMap<>();
    /** allocated extents: offset → length */
    private final TreeMap<Long, Long> used = new TreeMap<>();

    RegionAllocator(long capacity) {
        this.capacity = capacity;
        free.put(0L, capacity);
    }

    /** @return the offset of a new extent, or -1 when no free extent fits */
    long allocate(long size, long alignment) {
        for (Map.Entry<Long, Long> e : free.entrySet()) {
            long start = e.getKey();
            long len = e.getValue();
            long aligned = (start + alignment - 1) & -alignment;
            long pad = aligned - start;
            if (pad + size <= len) {
                free.remove(start);
                if (pad > 0) {
                    free.put(start, pad);
                }
                long tail = len - pad - size;
                if (tail > 0) {
                    free.put(aligned + size, tail);
                }
                used.put(aligned, size);
                return aligned;
            }
        }
        return -1;
    }

    /** @return whether {@code offset} started an extent of this allocator (which is now free) */
    boolean free(long offset) {
        Long size = used.remove(offset);
        if (size == null) {
            return false;
        }
        long start = offset;
        long len = size;
        Map.Entry<Long, Long> before = free.floorEntry(start);
        if (before != null && before.getKey() + before.getValue() == start) {
            free.remove(before.getKey());
            start = before.getKey();
            len += before.getValue();
        }
        Long after = free.get(offset + size);
        if (after != null) {
            free.remove(offset + size);
            len += after;
        }
        free.put(start, len);
        return true;
    }

    boolean isEmpty() {
        return used.isEmpty();
    }

    long capacity() {
        return capacity;
    }
}
