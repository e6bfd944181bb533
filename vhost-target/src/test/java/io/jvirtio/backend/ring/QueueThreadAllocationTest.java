package io.jvirtio.backend.ring;

import io.jvirtio.backend.TargetOptions;
import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.blk.VirtioBlkChannel;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.testkit.ThreadAllocation;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;

import static io.jvirtio.core.testing.BlkPatterns.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The queue thread allocates nothing per command: after a warm-up (JIT compilation, arrays grown to
 * the longest chain), the bytes the target's queue thread allocates over 100k reads and writes
 * driven by the jvirtio initiator stay below one byte per command on average, as counted by the
 * JVM for that thread ({@link com.sun.management.ThreadMXBean#getThreadAllocatedBytes}). On a
 * loaded machine the JIT may not have compiled the hot path after the warm-up (the interpreter
 * and C1 allocate where C2's escape analysis does not), so up to {@value #ROUNDS} rounds are
 * measured and one must come in below the bound: an allocation per command shows in every round.
 */
class QueueThreadAllocationTest {
    private static final int WARM_UP = 30_000;
    private static final int MEASURED = 100_000;
    private static final int ROUNDS = 4;

    @ParameterizedTest
    @EnumSource(QueueMode.class)
    void blkReadWriteAllocatesNothingPerCommand(QueueMode mode, @TempDir Path dir) throws Exception {
        RamBlockStore store = new RamBlockStore(4 << 20, false);
        String name = "alloc-" + mode.name().toLowerCase();
        TargetOptions options = TargetOptions.builder().queueMode(mode).pollIdle(Duration.ZERO).build();
        try (VhostUserTarget t = VhostUserTarget.builder().name(name).socket(dir.resolve("a.sock")).options(options)
                .blk(store, BlkModelOptions.defaults()).start();
             VirtioBlkDevice blk = VirtioBlkDevice.connectVhostUser(name, t.socketPath(),
                     VirtioBlkOptions.defaults().withQueueSize(64).withHugePages(HugePagePolicy.NEVER).withMemoryBytes(4 << 20));
             VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = new SyncIo(ch);
            MemorySegment w = blk.allocateBuffer(4096, 4096);
            MemorySegment r = blk.allocateBuffer(4096, 4096);
            fill(w, 3);
            run(io, w, r, WARM_UP);
            long[] thread = ThreadAllocation.threadsNamed("jvirtio-target-" + name + "-q0");
            assertEquals(1, thread.length, "queue thread jvirtio-target-" + name + "-q0");
            ThreadAllocation.Result result = ThreadAllocation.measure(thread, ROUNDS, MEASURED, 1.0, () -> run(io, w, r, MEASURED));
            io.read(r, 0);
            assertSameBytes(bytes(w), bytes(r), "read back");
            assertTrue(result.bestPerOp() < 1.0, mode + ": the queue thread allocated " + result + " of " + MEASURED + " commands");
        }
    }

    private static void run(SyncIo io, MemorySegment w, MemorySegment r, int commands) {
        for (int i = 0; i < commands; i += 2) {
            long off = (long) (i % 512) * 4096;
            io.write(w, off);
            io.read(r, off);
        }
    }
}
