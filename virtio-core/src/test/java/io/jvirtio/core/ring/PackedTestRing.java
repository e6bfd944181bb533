package io.jvirtio.core.ring;

import io.jvirtio.spec.ring.PackedRingLayout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** A packed queue and its simulated device over fresh shared memory; closing stops the device, then frees the memory. */
final class PackedTestRing implements AutoCloseable {
    final Arena arena = Arena.ofShared();
    final MemorySegment ringMemory;
    final MemorySegment indirectMemory;
    final SimulatedPackedDevice device;
    final PackedVirtqueue vq;

    PackedTestRing(int size, int maxIndirect, boolean eventIdx) {
        this("test-q0", size, maxIndirect, eventIdx);
    }

    PackedTestRing(String name, int size, int maxIndirect, boolean eventIdx) {
        ringMemory = arena.allocate(PackedRingLayout.totalBytes(size), PackedRingLayout.RING_ALIGN);
        indirectMemory = maxIndirect == 0 ? null
                : arena.allocate((long) size * maxIndirect * PackedRingLayout.DESC_SIZE, PackedRingLayout.DESC_SIZE);
        device = new SimulatedPackedDevice(size, ringMemory, eventIdx);
        vq = new PackedVirtqueue(name, 0, size, ringMemory, indirectMemory, maxIndirect, eventIdx, device);
        // always-indirect, as these tests were written; the direct-chain policy: roundTripsManyRequestsWithData's rows with directChainMax 4
        vq.setDirectChainMax(0);
    }

    MemorySegment buffer(long bytes) {
        return arena.allocate(bytes, Long.BYTES);
    }

    /** @return flags of ring slot {@code slot}, as the device sees them */
    int descFlags(int slot) {
        return ringMemory.get(io.jvirtio.spec.ring.SplitRingLayout.LE_SHORT, PackedRingLayout.descOffset(slot)
                + PackedRingLayout.DESC_FLAGS_OFFSET) & 0xFFFF;
    }

    /** @return the buffer id the driver wrote in ring slot {@code slot} */
    int descId(int slot) {
        return ringMemory.get(io.jvirtio.spec.ring.SplitRingLayout.LE_SHORT, PackedRingLayout.descOffset(slot)
                + PackedRingLayout.DESC_ID_OFFSET) & 0xFFFF;
    }

    /** Flushes, lets the device complete everything, polls it all back. */
    int flushProcessPoll(UsedSink sink) {
        vq.reqFlush();
        device.process();
        return vq.poll(Integer.MAX_VALUE, sink);
    }

    @Override
    public void close() {
        try {
            device.close();
        } finally {
            arena.close();
        }
    }
}
