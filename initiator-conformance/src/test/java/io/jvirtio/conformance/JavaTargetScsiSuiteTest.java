package io.jvirtio.conformance;

import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.scsi.ScsiLun;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import io.jvirtio.backend.scsi.VirtioScsiModel;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.core.RingType;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.scsi.VirtioScsiOptions;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The scsi initiator suite against the Java target in this JVM, over RAM LUNs whose bytes the test
 * reads directly. The model adds and removes LUNs at run time (with the hot-plug events), so the
 * hot-plug case runs.
 */
class JavaTargetScsiSuiteTest extends AbstractScsiInitiatorSuite {
    // The target offers the packed ring and the initiator's default (AUTO) takes it;
    // JavaTargetSplitRingScsiSuiteTest runs the same suite on split rings.
    /** One request queue per suite thread and one for the initiator's dedicated scan queue. */
    private static final int TARGET_QUEUES = THREADS + 1;

    /** Hugepage-backed front-end memory when the machine has some: the target maps hugetlbfs fds too. */
    @Override
    protected VirtioScsiOptions initiatorOptions() {
        return super.initiatorOptions().withHugePages(HugePagePolicy.AUTO);
    }

    @Override
    protected RingType expectedRing() {
        return RingType.PACKED;
    }

    @Override
    protected StartedScsiTarget startTarget(Path dir) {
        VirtioScsiModel model = new VirtioScsiModel(ScsiModelOptions.builder().name("jts").requestQueues(TARGET_QUEUES).build());
        Map<Integer, RamBlockStore> stores = new ConcurrentHashMap<>();
        // removed LUNs' stores stay open until the end: a late command must not touch freed memory
        List<RamBlockStore> all = new ArrayList<>();
        Lun lun = (t, bs, blocks) -> {
            RamBlockStore s = new RamBlockStore(bs * blocks, false);
            synchronized (all) {
                all.add(s);
            }
            stores.put(t, s);
            model.addLun(t, 0, ScsiLun.builder(s).blockSize(bs).build());
        };
        lun.add(0, 512, DISK_BYTES / 512);
        lun.add(1, 4096, DISK_BYTES / 4096);
        VhostUserTarget t = VhostUserTarget.builder().name("jts").socket(dir.resolve("jts.sock")).model(model).start();
        return new StartedScsiTarget() {
            @Override
            public Path socketPath() {
                return t.socketPath();
            }

            @Override
            public Optional<byte[]> storedBytes(int target, long offset, int length) {
                return Optional.of(stores.get(target).contents().asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE));
            }

            @Override
            public boolean canHotplug() {
                return true;
            }

            @Override
            public void addTarget(int target, int blockSize, long blocks) {
                lun.add(target, blockSize, blocks);
            }

            @Override
            public void removeTarget(int target) {
                model.removeLun(target, 0);
            }

            @Override
            public void close() {
                t.close();
                synchronized (all) {
                    all.forEach(RamBlockStore::close);
                }
            }
        };
    }

    @FunctionalInterface
    private interface Lun {
        void add(int target, int blockSize, long blocks);
    }
}
