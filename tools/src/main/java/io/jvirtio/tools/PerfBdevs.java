package io.jvirtio.tools;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.config.BdevRegistry;
import io.jvirtio.core.VirtioDevice;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.scsi.VirtioScsiController;
import io.jvirtio.scsi.VirtioScsiDisk;
import io.jvirtio.scsi.VirtioScsiOptions;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.testkit.QemuStorageDaemon;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;

/** The bdevs a {@code jvirtio perf} run measures, and what must be closed after it. */
final class PerfBdevs implements AutoCloseable {
    private final List<Bdev> list = new ArrayList<>();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private long targetPid = -1;

    private PerfBdevs() {
    }

    /** Attaches what the settings name; on failure closes what was opened. */
    static PerfBdevs open(PerfSettings s, Progress progress) throws Exception {
        PerfBdevs b = new PerfBdevs();
        try {
            b.attach(s, progress);
        } catch (Exception | Error e) {
            b.close();
            throw e;
        }
        return b;
    }

    List<Bdev> list() {
        return list;
    }

    /** @return the pid of the target process whose CPU time is reported, or -1 */
    long targetPid() {
        return targetPid;
    }

    private void attach(PerfSettings s, Progress progress) throws InterruptedException {
        if (s.config() != null) {
            BdevRegistry registry = ConfigCommands.load(s.config(), s.skipUnsupported(), progress);
            closeables.add(registry);
            if (s.bdev() != null) {
                list.add(registry.findBdev(s.bdev()).orElseThrow(() -> new UserError("-b " + s.bdev() + ": no such bdev in " + s.config()
                        + " (bdevs: " + registry.bdevs().stream().map(Bdev::name).toList() + ")")));
            } else {
                list.addAll(registry.bdevs());
            }
            if (list.isEmpty()) {
                throw new UserError("--json " + s.config() + ": the config attaches no bdev");
            }
            return;
        }
        Target target;
        if (s.socket() != null) {
            target = Target.existing(s.socket(), s.targetPid());
        } else if (s.qsdNullBytes() > 0) {
            target = Target.start(QemuStorageDaemon.nullCo(s.qsdNullBytes()));
        } else {
            target = Target.start(QemuStorageDaemon.file(s.qsdFile()));
        }
        closeables.add(target);
        targetPid = target.pid();
        int maxDepth = s.maxDepth();
        int vqSize = s.vqSize() > 0 ? s.vqSize() : Math.max(256, Integer.highestOneBit(maxDepth * 2 - 1));
        VirtioBlkOptions options = VirtioBlkOptions.defaults().withQueueSize(vqSize).withChannelDepth(maxDepth).withHugePages(s.hugePages())
                .withMemoryBytes(Math.max(VirtioBlkOptions.DEFAULT_MEMORY_BYTES, 4L * maxDepth * s.ioSize()))
                .withReconnect(s.reconnect());
        VirtioBlkDevice blk;
        try {
            blk = target.attach("VirtioBlk0", options);
        } catch (VirtioException e) {
            if (s.socket() != null && isScsi(s.socket())) {
                throw new UserError("--socket " + s.socket() + ": this is a virtio-scsi device, and --socket attaches virtio-blk only"
                        + " (it refused virtio-blk's config space: " + e.getMessage() + "). Attach it with an SPDK JSON config and run"
                        + " jvirtio perf --json CONFIG; the config's entry: {\"method\": \"bdev_virtio_attach_controller\", \"params\":"
                        + " {\"name\": \"VirtioScsi0\", \"trtype\": \"user\", \"traddr\": \"" + s.socket()
                        + "\", \"dev_type\": \"scsi\", \"vq_count\": 1}}");
            }
            throw e;
        }
        closeables.add(blk);
        list.add(blk);
    }

    /** Whether the back-end on {@code socket} attaches as a virtio-scsi controller (then it is closed again at once). */
    private static boolean isScsi(Path socket) {
        VirtioScsiOptions probe = VirtioScsiOptions.defaults().withRequestQueues(1).withQueueSize(16).withChannelDepth(8)
                .withHugePages(HugePagePolicy.NEVER).withMemoryBytes(4L << 20).withScanTargets(1);
        try (VirtioScsiController c = VirtioScsiController.connectVhostUser("probe", socket, probe)) {
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** @return the virtio device behind {@code b}, or null for a bdev of another kind */
    static VirtioDevice deviceOf(Bdev b) {
        if (b instanceof VirtioBlkDevice blk) {
            return blk.device();
        }
        if (b instanceof VirtioScsiDisk disk) {
            return disk.controller().device();
        }
        return null;
    }

    /** @return the name of the controller behind {@code b} (for virtio-blk the bdev itself) */
    static String controllerName(Bdev b) {
        return b instanceof VirtioScsiDisk disk ? disk.controller().name() : b.name();
    }

    /** @return the virtio devices behind the bdevs, each once */
    List<VirtioDevice> devices() {
        LinkedHashSet<VirtioDevice> ds = new LinkedHashSet<>();
        for (Bdev b : list) {
            VirtioDevice d = deviceOf(b);
            if (d != null) {
                ds.add(d);
            }
        }
        return new ArrayList<>(ds);
    }

    @Override
    public void close() {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            try {
                closeables.get(i).close();
            } catch (Exception e) {
                // closing what was opened: the first error already went to the user
            }
        }
    }
}
