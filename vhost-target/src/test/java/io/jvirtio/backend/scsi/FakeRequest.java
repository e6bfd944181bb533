package io.jvirtio.backend.scsi;

import io.jvirtio.backend.device.DeviceRequest;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** A {@link DeviceRequest} over native buffers that records its completion (and any second one). */
final class FakeRequest implements DeviceRequest {
    private static final AtomicLong SEQUENCE = new AtomicLong();
    private final int queue;
    private final List<MemorySegment> readable;
    private final List<MemorySegment> writable;
    private final AtomicInteger completions = new AtomicInteger();
    private final CompletableFuture<Integer> used = new CompletableFuture<>();
    private volatile String completingThread;
    private volatile long sequence;

    FakeRequest(int queue, List<MemorySegment> readable, List<MemorySegment> writable) {
        this.queue = queue;
        this.readable = List.copyOf(readable);
        this.writable = List.copyOf(writable);
    }

    @Override
    public int queueIndex() {
        return queue;
    }

    @Override
    public int readableCount() {
        return readable.size();
    }

    @Override
    public MemorySegment readable(int i) {
        return readable.get(i);
    }

    @Override
    public int writableCount() {
        return writable.size();
    }

    @Override
    public MemorySegment writable(int i) {
        return writable.get(i);
    }

    @Override
    public long readableBytes() {
        return readable.stream().mapToLong(MemorySegment::byteSize).sum();
    }

    @Override
    public long writableBytes() {
        return writable.stream().mapToLong(MemorySegment::byteSize).sum();
    }

    @Override
    public void complete(int bytesWritten) {
        if (completions.incrementAndGet() == 1) {
            completingThread = Thread.currentThread().getName();
            sequence = SEQUENCE.incrementAndGet();
            used.complete(bytesWritten);
        }
    }

    boolean completed() {
        return used.isDone();
    }

    int completions() {
        return completions.get();
    }

    /** @return the order of this completion among all completions of the test run */
    long sequence() {
        return sequence;
    }

    String completingThread() {
        return completingThread;
    }

    /** @return the used length, waiting up to 10 s */
    int awaitUsed() {
        try {
            return used.get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("request on queue " + queue + " not completed: " + e, e);
        }
    }

    CompletableFuture<Integer> usedFuture() {
        return used;
    }

    /** @return the writable bytes, concatenated */
    byte[] writableBytesArray() {
        byte[] all = new byte[(int) writableBytes()];
        int p = 0;
        for (MemorySegment s : writable) {
            MemorySegment.copy(s, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, all, p, (int) s.byteSize());
            p += (int) s.byteSize();
        }
        return all;
    }
}
