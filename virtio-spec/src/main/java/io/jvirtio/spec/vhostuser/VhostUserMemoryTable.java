package io.jvirtio.spec.vhostuser;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * "Memory regions description" (SET_MEM_TABLE): {@code nregions u32, padding u32}, then
 * {@code nregions} regions. One fd per region travels with the message, in the same order.
 *
 * @param regions 0 to {@link #MAX_REGIONS} regions
 */
public record VhostUserMemoryTable(List<VhostUserMemoryRegion> regions) implements VhostUserPayload {
    /** {@code VHOST_MEMORY_BASELINE_NREGIONS}: the most regions SET_MEM_TABLE carries. */
    public static final int MAX_REGIONS = 8;
    /** {@code nregions u32} plus {@code padding u32}. */
    public static final int HEADER_SIZE = 8;
    public static final int NREGIONS_OFFSET = 0;
    public static final int PADDING_OFFSET = 4;

    /** @throws IllegalArgumentException when there are more than {@link #MAX_REGIONS} regions */
    public VhostUserMemoryTable {
        if (regions.size() > MAX_REGIONS) {
            throw new IllegalArgumentException("memory table of " + regions.size() + " regions; SET_MEM_TABLE carries at most "
                    + MAX_REGIONS + " (VHOST_MEMORY_BASELINE_NREGIONS)");
        }
        regions = List.copyOf(regions);
    }

    @Override
    public int size() {
        return HEADER_SIZE + regions.size() * VhostUserMemoryRegion.SIZE;
    }

    @Override
    public void encode(ByteBuffer buf) {
        buf.putInt(regions.size()).putInt(0);
        for (VhostUserMemoryRegion r : regions) {
            r.encode(buf);
        }
    }

    /** Decodes a table whose size is exactly {@code 8 + 32 * nregions}. */
    public static VhostUserMemoryTable decode(ByteBuffer buf) {
        if (buf.remaining() < HEADER_SIZE) {
            throw VhostUserException.protocolError("memory table payload is " + buf.remaining() + " bytes, expected at least " + HEADER_SIZE);
        }
        int n = buf.getInt();
        buf.getInt();
        if (n < 0 || n > MAX_REGIONS) {
            throw VhostUserException.protocolError("memory table has nregions " + Integer.toUnsignedString(n) + ", at most " + MAX_REGIONS);
        }
        VhostUserPayload.requireSize("memory table regions (nregions " + n + ")", buf, n * VhostUserMemoryRegion.SIZE);
        List<VhostUserMemoryRegion> list = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            list.add(VhostUserMemoryRegion.read(buf));
        }
        return new VhostUserMemoryTable(list);
    }
}
