package io.jvirtio.conformance.alloc;

import io.jvirtio.backend.TargetOptions;
import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.ring.QueueMode;
import io.jvirtio.backend.scsi.ScsiLun;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import io.jvirtio.backend.scsi.VirtioScsiModel;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.core.RingType;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.scsi.VirtioScsiChannel;
import io.jvirtio.scsi.VirtioScsiController;
import io.jvirtio.scsi.VirtioScsiDisk;
import io.jvirtio.scsi.VirtioScsiOptions;
import io.jvirtio.testkit.ThreadAllocation;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;

import static io.jvirtio.core.testing.BlkPatterns.*;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Java target's scsi model allocates nothing per command, as its blk model does
 * (vhost-target's {@code QueueThreadAllocationTest}): after a warm-up, the bytes the target's queue
 * threads allocate over 100k READ(10)/WRITE(10)s from the jvirtio initiator stay below one byte per
 * command, counted by the JVM per thread. The task of each command, its buffer views, request and
 * response headers are reused per descriptor head (or buffer id); on a loaded machine the JIT may not
 * have compiled the path yet, so up to {@value #ROUNDS} rounds are measured and one must pass.
 */
class ScsiTargetAllocationTest {
    private static final int WARM_UP = 30_000;
    private static final int MEASURED = 100_000;
    private static final int ROUNDS = 4;

    @ParameterizedTest(name = "{0} queue thread, {1} ring")
    @CsvSource({"KICK, SPLIT", "KICK, PACKED", "POLL, SPLIT", "POLL, PACKED"})
    void scsiReadWriteAllocatesNothingPerCommand(QueueMode mode, RingType ring, @TempDir Path dir) throws Exception {
        String name = "salloc-" + mode.name().toLowerCase() + "-" + ring.name().toLowerCase();
        RamBlockStore store = new RamBlockStore(4 << 20, false);
        VirtioScsiModel model = new VirtioScsiModel(ScsiModelOptions.builder().name(name).requestQueues(1).build());
        model.addLun(0, 0, ScsiLun.builder(store).blockSize(512).build());
        TargetOptions options = TargetOptions.builder().queueMode(mode).pollIdle(Duration.ZERO).build();
        try (VhostUserTarget t = VhostUserTarget.builder().name(name).socket(dir.resolve("s.sock")).options(options).model(model).start();
             VirtioScsiController ctrl = VirtioScsiController.connectVhostUser(name, t.socketPath(), VirtioScsiOptions.defaults()
                     .withRequestQueues(1).withQueueSize(64).withHugePages(HugePagePolicy.NEVER).withMemoryBytes(4 << 20).withRingType(ring))) {
            VirtioScsiDisk disk = ctrl.disk(0, 0).orElseThrow();
            try (VirtioScsiChannel ch = disk.openChannel()) {
                SyncIo io = new SyncIo(ch);
                MemorySegment w = disk.allocateBuffer(4096, 4096);
                MemorySegment r = disk.allocateBuffer(4096, 4096);
                fill(w, 5);
                run(io, w, r, WARM_UP);
                long[] threads = ThreadAllocation.threadsNamed("jvirtio-target-" + name + "-q");
                assertTrue(threads.length > 0, "queue threads jvirtio-target-" + name + "-q*");
                ThreadAllocation.Result result = ThreadAllocation.measure(threads, ROUNDS, MEASURED, 1.0, () -> run(io, w, r, MEASURED));
                io.read(r, 0);
                assertSameBytes(bytes(w), bytes(r), "read back");
                assertTrue(result.bestPerOp() < 1.0, mode + "/" + ring + ": the queue threads allocated " + result + " of " + MEASURED
                        + " commands");
            }
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
