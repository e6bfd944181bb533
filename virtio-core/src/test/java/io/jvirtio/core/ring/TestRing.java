package io.jvirtio.core.ring;

import io.jvirtio.spec.ring.SplitRingLayout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** A queue and its simulated device over fresh shared memory; closing stops the device, then frees the memory. */
final class TestRing implements AutoCloseable {
    final Arena arena = Arena.ofShared();
    final MemorySegment ringMemory;
    final MemorySegment indirectMemory;
    final SimulatedDevice device;
    final SplitVirtqueue vq;

    TestRing(int size, int maxIndirect, boolean eventIdx) {
        this("test-q0", size, maxIndirect, eventIdx);
    }

    TestRing(String name, int size, int maxIndirect, boolean eventIdx) {
        ringMemory = arena.allocate(SplitRingLayout.totalBytes(size), SplitRingLayout.VIRTIO_PCI_VRING_ALIGN);
        indirectMemory = maxIndirect == 0 ? null
                : arena.allocate((long) size * maxIndirect * SplitRingLayout.DESC_SIZE, SplitRingLayout.DESC_SIZE);
        device = new SimulatedDevice(size, ringMemory, eventIdx);
        vq = new SplitVirtqueue(name, 0, size, ringMemory, indirectMemory, maxIndirect, eventIdx, device);
        // These tests were written for always-indirect; the direct-chain policy has its own tests
        // (SplitVirtqueueTest#shortChainsAreDirectWhileTheRingHasTheDescriptors and its neighbours).
        vq.setDirectChainMax(0);
    }

    MemorySegment buffer(long bytes) {
        return arena.allocate(bytes, Long.BYTES);
    }

    /** @return flags of ring descriptor {@code index}, as the device sees them */
    int descFlags(int index) {
        return ringMemory.get(SplitRingLayout.LE_SHORT, SplitRingLayout.descTableOffset()
                + SplitRingLayout.descOffset(index) + SplitRingLayout.DESC_FLAGS_OFFSET) & 0xFFFF;
    }

    /** @return the head the driver put in avail ring slot {@code slot} */
    int availHead(int slot) {
        return ringMemory.get(SplitRingLayout.LE_SHORT, SplitRingLayout.availOffset(vq.size())
                + SplitRingLayout.availRingOffset(slot)) & 0xFFFF;
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
