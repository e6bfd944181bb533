package io.jvirtio.scsi;

import io.jvirtio.backend.TargetOptions;
import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.scsi.ScsiFaults;
import io.jvirtio.backend.scsi.ScsiLun;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import io.jvirtio.backend.scsi.VirtioScsiModel;
import io.jvirtio.backend.store.BlockStore;
import io.jvirtio.backend.store.RamBlockStore;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;

/**
 * Test fixture: jvirtio's Java vhost-user-scsi target (vhost-target module) in this process, with RAM
 * LUNs whose contents the tests inspect.
 */
final class JavaScsiTarget implements AutoCloseable {
    final VirtioScsiModel model;
    final VhostUserTarget target;
    private final Map<Long, BlockStore> stores = new ConcurrentHashMap<>();
    private final List<BlockStore> all = new ArrayList<>();

    private JavaScsiTarget(VirtioScsiModel model, VhostUserTarget target) {
        this.model = model;
        this.target = target;
    }

    /**
     * @param socket    where the target listens
     * @param config    host settings (request queues, max_target, hot-plug)
     * @param transport vhost-user transport options (protocol features offered)
     */
    static JavaScsiTarget start(Path socket, ScsiModelOptions config, TargetOptions transport) {
        VirtioScsiModel model = new VirtioScsiModel(config);
        VhostUserTarget t = VhostUserTarget.builder().name(config.name()).socket(socket).model(model).options(transport).start();
        return new JavaScsiTarget(model, t);
    }

    static JavaScsiTarget start(Path socket, ScsiModelOptions config) {
        return start(socket, config, TargetOptions.defaults());
    }

    Path socket() {
        return target.socketPath();
    }

    ScsiFaults faults() {
        return model.faults();
    }

    /** Adds a RAM LUN (a hot-add once a driver negotiated HOTPLUG). */
    ScsiLun addLun(int t, int l, long bytes, int blockSize) {
        return addLun(t, l, bytes, blockSize, b -> b);
    }

    /** Adds a RAM LUN configured further by {@code tweak}. */
    ScsiLun addLun(int t, int l, long bytes, int blockSize, UnaryOperator<ScsiLun.Builder> tweak) {
        return addLun(t, l, new RamBlockStore(bytes, false), blockSize, tweak);
    }

    /** Adds a LUN over {@code store}. */
    synchronized ScsiLun addLun(int t, int l, BlockStore store, int blockSize, UnaryOperator<ScsiLun.Builder> tweak) {
        all.add(store);
        stores.put(key(t, l), store);
        return model.addLun(t, l, tweak.apply(ScsiLun.builder(store).blockSize(blockSize)).build());
    }

    /** Hot-removes a LUN (its store stays open until the fixture closes: late commands must not touch freed memory). */
    ScsiLun removeLun(int t, int l) {
        return model.removeLun(t, l);
    }

    /** @return the RAM contents of a LUN */
    RamBlockStore ram(int t, int l) {
        return (RamBlockStore) stores.get(key(t, l));
    }

    @SuppressWarnings("unchecked")
    <S extends BlockStore> S store(int t, int l) {
        return (S) stores.get(key(t, l));
    }

    private static long key(int t, int l) {
        return ((long) t << 32) | l;
    }

    @Override
    public void close() {
        target.close();
        synchronized (this) {
            all.forEach(BlockStore::close);
        }
    }
}
