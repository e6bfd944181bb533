package io.jvirtio.backend;

import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.ring.QueueMode;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.blk.VirtioBlkChannel;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.mem.HugePagePolicy;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import static io.jvirtio.core.testing.BlkPatterns.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Both queue modes serve the jvirtio initiator with the data read back as written: KICK, POLL with
 * the idle back-off (long pauses between requests so the thread re-arms the kick and sleeps, and
 * the next request must wake it), POLL spinning for ever, and POLL pinned to a CPU.
 */
class QueueModesTest {
    static Stream<Arguments> modes() {
        return Stream.of(
                Arguments.of("kick", TargetOptions.builder().queueMode(QueueMode.KICK).build()),
                Arguments.of("poll-backoff", TargetOptions.builder().queueMode(QueueMode.POLL).pollIdle(Duration.ofNanos(100_000)).build()),
                Arguments.of("poll-forever", TargetOptions.builder().queueMode(QueueMode.POLL).pollIdle(Duration.ZERO).build()),
                Arguments.of("poll-pinned", TargetOptions.builder().cpus(List.of(0)).build()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("modes")
    void servesIoWithDataVerified(String mode, TargetOptions options, @TempDir Path dir) throws Exception {
        assertEquals(!mode.equals("kick"), options.polling(), "a CPU list alone means POLL");
        RamBlockStore store = new RamBlockStore(8 << 20, false);
        try (VhostUserTarget t = VhostUserTarget.builder().name("modes-" + mode).socket(dir.resolve("m.sock")).options(options)
                .blk(store, BlkModelOptions.builder().numQueues(2).build()).start();
             VirtioBlkDevice blk = VirtioBlkDevice.connectVhostUser("modes", t.socketPath(),
                     VirtioBlkOptions.defaults().withRequestQueues(2).withQueueSize(64).withHugePages(HugePagePolicy.NEVER).withMemoryBytes(8 << 20));
             VirtioBlkChannel a = blk.openChannel();
             VirtioBlkChannel b = blk.openChannel()) {
            SyncIo[] io = {new SyncIo(a), new SyncIo(b)};
            MemorySegment w = blk.allocateBuffer(16384, 4096);
            MemorySegment r = blk.allocateBuffer(16384, 4096);
            for (int i = 0; i < 40; i++) {
                long off = (long) (i % 16) * 16384;
                fill(w, i + 1);
                io[i % 2].write(w, off);
                r.fill((byte) 0);
                io[(i + 1) % 2].read(r, off);
                assertSameBytes(bytes(w), bytes(r), mode + ": round " + i + " read back");
                assertSameBytes(bytes(w), store.contents().asSlice(off, 16384).toArray(ValueLayout.JAVA_BYTE), mode + ": round " + i + " store");
                if (i % 8 == 7) {
                    Thread.sleep(3); // longer than the back-off idle time: the next request must wake a sleeping thread
                }
            }
            io[0].flush();
        }
    }
}
