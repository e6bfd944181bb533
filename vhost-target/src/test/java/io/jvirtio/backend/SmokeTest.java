package io.jvirtio.backend;

import io.jvirtio.bdev.SyncIo;
import io.jvirtio.blk.VirtioBlkChannel;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.store.RamBlockStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

import static io.jvirtio.core.testing.BlkPatterns.*;

class SmokeTest {
    @Test
    void writeAndReadBack(@TempDir Path dir) {
        RamBlockStore store = new RamBlockStore(16 << 20, false);
        try (VhostUserTarget t = VhostUserTarget.builder().name("smoke").socket(dir.resolve("s.sock"))
                .blk(store, BlkModelOptions.builder().numQueues(2).build()).start();
             VirtioBlkDevice blk = VirtioBlkDevice.connectVhostUser("smoke", t.socketPath(),
                     VirtioBlkOptions.defaults().withQueueSize(64).withHugePages(HugePagePolicy.NEVER).withMemoryBytes(8 << 20));
             VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = new SyncIo(ch);
            MemorySegment w = blk.allocateBuffer(8192, 4096);
            MemorySegment r = blk.allocateBuffer(8192, 4096);
            fill(w, 7);
            io.write(w, 4096);
            io.read(r, 4096);
            assertSameBytes(bytes(w), bytes(r), "read back");
            assertSameBytes(bytes(w), store.contents().asSlice(4096, 8192).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), "store");
            io.flush();
        }
    }
}
