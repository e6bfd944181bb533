package io.jvirtio.examples.log;

import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.store.RamBlockStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** The example as CI runs it: the demo against the Java target, then the bytes on the target's disk. */
class RecordLogTest {
    @TempDir
    Path dir;

    @Test
    void recordsAppendedFromVirtualThreadsSurviveAReattachAndReadBackEqual() throws Exception {
        RamBlockStore store = new RamBlockStore(64L << 20, false); // the target closes it
        try (VhostUserTarget target = VhostUserTarget.builder().name("log0").socket(dir.resolve("log0.sock"))
                     .blk(store, BlkModelOptions.builder().blockSize(512).numQueues(1).build()).start()) {
            String summary = LogDemo.run(target.socketPath());
            int n = LogDemo.THREADS * LogDemo.PER_THREAD;
            assertTrue(summary.contains("reopened (" + n + " found by the scan)"), summary);
            // the target's RAM holds records: the first block is a record header
            assertEquals(RecordLog.MAGIC, store.contents().get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0));
        }
    }
}
