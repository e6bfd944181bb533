package io.jvirtio.conformance.completion;

import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.CompletionMode;
import io.jvirtio.bdev.async.AsyncBdev;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.mem.HugePagePolicy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/** The async API against the Java target: many virtual threads, futures, and what happens after close. */
class AsyncBdevTest {
    private static final int BLOCK = 4096;
    private static final int THREADS = 1_000;

    @TempDir
    Path dir;

    @Test
    void aThousandVirtualThreadsWriteAndReadBackTheirOwnBlocks() throws Exception {
        for (CompletionMode mode : new CompletionMode[] {CompletionMode.polling(), CompletionMode.interrupt()}) {
            try (Target t = Target.start(dir, mode.toString()); AsyncBdev io = AsyncBdev.open(t.dev, mode);
                 ExecutorService vts = Executors.newVirtualThreadPerTaskExecutor()) {
                AtomicInteger verified = new AtomicInteger();
                List<Future<?>> all = new ArrayList<>();
                for (int i = 0; i < THREADS; i++) {
                    int id = i;
                    all.add(vts.submit(() -> {
                        MemorySegment out = t.dev.allocateBuffer(BLOCK, BLOCK);
                        MemorySegment in = t.dev.allocateBuffer(BLOCK, BLOCK);
                        try {
                            for (int round = 0; round < 3; round++) {
                                fill(out, id * 31 + round);
                                long offset = (long) id * BLOCK;
                                io.write(out, offset);
                                io.read(in, offset);
                                assertEquals(-1, out.mismatch(in), "thread " + id + " round " + round + " read back as written");
                            }
                            verified.incrementAndGet();
                        } finally {
                            t.dev.freeBuffer(out);
                            t.dev.freeBuffer(in);
                        }
                        return null;
                    }));
                }
                for (Future<?> f : all) {
                    f.get(60, TimeUnit.SECONDS);
                }
                assertEquals(THREADS, verified.get(), mode + ": every thread verified its block");
                for (int i = 0; i < THREADS; i++) {
                    byte expected = (byte) (i * 31 + 2);
                    assertEquals(expected, t.store.contents().get(ValueLayout.JAVA_BYTE, (long) i * BLOCK + 1), "the target's RAM, block " + i);
                }
            }
        }
    }

    @Test
    void futuresCompleteWithDataAndFailWithTheDevicesError() throws Exception {
        try (Target t = Target.start(dir, "f"); AsyncBdev io = AsyncBdev.open(t.dev)) {
            MemorySegment out = t.dev.allocateBuffer(BLOCK, BLOCK);
            MemorySegment in = t.dev.allocateBuffer(BLOCK, BLOCK);
            fill(out, 7);
            io.writeAsync(out, 8 * BLOCK).thenCompose(v -> io.readAsync(in, 8 * BLOCK)).get(10, TimeUnit.SECONDS);
            assertEquals(-1, out.mismatch(in));
            io.flushAsync().get(10, TimeUnit.SECONDS);
            CompletableFuture<Void> past = io.readAsync(in, t.dev.blockCount() * t.dev.blockSize());
            ExecutionException e = assertThrows(ExecutionException.class, () -> past.get(10, TimeUnit.SECONDS));
            assertInstanceOf(BdevIoException.class, e.getCause());
            assertTrue(e.getCause().getMessage().contains(t.dev.name()), e.getCause().getMessage());
        }
    }

    @Test
    void afterCloseCallsFailAtOnceNamingTheBdev() {
        try (Target t = Target.start(dir, "c")) {
            AsyncBdev io = AsyncBdev.open(t.dev);
            MemorySegment buf = t.dev.allocateBuffer(BLOCK, BLOCK);
            io.write(buf, 0);
            io.close();
            BdevIoException e = assertThrows(BdevIoException.class, () -> io.read(buf, 0));
            assertTrue(e.getMessage().contains("bdev " + t.dev.name() + ": its async channel was closed"), e.getMessage());
            assertTrue(io.readAsync(buf, 0).isCompletedExceptionally());
            try (AsyncBdev again = AsyncBdev.open(t.dev)) {
                again.read(buf, 0); // the channel (its request queue) was given back
            }
        }
    }

    private static void fill(MemorySegment s, int seed) {
        for (long i = 0; i < s.byteSize(); i++) {
            s.set(ValueLayout.JAVA_BYTE, i, (byte) (seed + i * 7 * (i & 1)));
        }
        s.set(ValueLayout.JAVA_BYTE, 1, (byte) seed);
    }

    private record Target(VhostUserTarget target, RamBlockStore store, VirtioBlkDevice dev) implements AutoCloseable {
        static Target start(Path dir, String tag) {
            RamBlockStore store = new RamBlockStore((long) THREADS * BLOCK * 2, false);
            String name = "async-" + tag.replaceAll("[^a-z]", "");
            VhostUserTarget t = VhostUserTarget.builder().name(name).socket(dir.resolve(name + ".sock"))
                    .blk(store, BlkModelOptions.builder().blockSize(512).numQueues(1).build()).closeOnExit(store).start();
            VirtioBlkDevice dev = VirtioBlkDevice.connectVhostUser("Async0", t.socketPath(),
                    VirtioBlkOptions.defaults().withQueueSize(256).withHugePages(HugePagePolicy.NEVER).withMemoryBytes(64L << 20));
            return new Target(t, store, dev);
        }

        @Override
        public void close() {
            dev.close();
            target.close();
        }
    }
}
