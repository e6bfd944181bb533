package io.jvirtio.conformance;

import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.RingType;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.store.RamBlockStore;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The blk initiator suite against the Java target, over a RAM disk whose bytes the test reads directly.
 * The target offers the packed ring and the initiator's default ({@link RingType#AUTO}) takes it;
 * {@link JavaTargetSplitRingBlkSuiteTest} runs the same suite on split rings.
 */
class JavaTargetBlkSuiteTest extends AbstractBlkInitiatorSuite {
    private static final AtomicInteger COUNT = new AtomicInteger();

    /** Hugepage-backed front-end memory when the machine has some: the target maps hugetlbfs fds too. */
    @Override
    protected VirtioBlkOptions initiatorOptions(int queues) {
        return super.initiatorOptions(queues).withHugePages(HugePagePolicy.AUTO);
    }

    @Override
    protected RingType expectedRing() {
        return RingType.PACKED;
    }

    @Override
    protected StartedTarget startTarget(Disk disk, Path dir) {
        String name = "jt" + COUNT.getAndIncrement();
        RamBlockStore store = new RamBlockStore(disk.sizeBytes(), false);
        VhostUserTarget t = VhostUserTarget.builder().name(name).socket(dir.resolve(name + ".sock"))
                .blk(store, BlkModelOptions.builder().blockSize(disk.blockSize()).numQueues(disk.queues()).readOnly(disk.readOnly())
                        .discard(disk.discard()).writeZeroes(disk.writeZeroes()).build())
                .start();
        return new StartedTarget() {
            @Override
            public Path socketPath() {
                return t.socketPath();
            }

            @Override
            public byte[] storedBytes(long offset, int length) {
                return store.contents().asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE);
            }

            @Override
            public String serial() {
                return name;
            }

            @Override
            public void close() {
                t.close();
            }
        };
    }
}
