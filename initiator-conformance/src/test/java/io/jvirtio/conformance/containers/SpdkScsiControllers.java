package io.jvirtio.conformance.containers;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * vhost-scsi controllers made in a running SPDK container through its own RPC
 * ({@code vhost_create_scsi_controller}), whose targets each hold one LUN over a malloc bdev of their
 * own ({@code bdev_malloc_create}, {@code vhost_scsi_controller_add_target}). Targets can be added
 * and removed while an initiator is attached: SPDK sends the hot-plug events itself.
 */
public final class SpdkScsiControllers {
    private static final Logger LOG = LoggerFactory.getLogger(SpdkScsiControllers.class);
    private static final long MIB = 1L << 20;
    private static final AtomicInteger BDEVS = new AtomicInteger();

    private final TargetContainer spdk;

    /** @param spdk the running SPDK container */
    public SpdkScsiControllers(TargetContainer spdk) {
        this.spdk = spdk;
    }

    /** Makes an empty controller named {@code name}; its socket is {@code name} in the shared directory. */
    public Controller create(String name) {
        spdk.rpc("vhost_create_scsi_controller", name);
        return new Controller(name);
    }

    /** A made controller; {@link #close()} removes its targets, the controller and the bdevs. */
    public final class Controller implements AutoCloseable {
        private final String name;
        /** target number to the bdev of its LUN, for targets added and not removed */
        private final Map<Integer, String> targets = new ConcurrentHashMap<>();
        /** every bdev made: removed targets' too, deleted at close (SPDK lets go of them asynchronously) */
        private final List<String> bdevs = new ArrayList<>();

        private Controller(String name) {
            this.name = name;
        }

        /** @return the controller's vhost-user socket on the host */
        public Path socket() {
            return spdk.socket(name);
        }

        /**
         * Adds target {@code target} with one LUN over a new malloc bdev.
         *
         * @param sizeBytes a multiple of 1 MiB (bdev_malloc_create takes megabytes)
         * @return the bdev's name
         */
        public synchronized String addTarget(int target, int blockSize, long sizeBytes) {
            if (sizeBytes % MIB != 0) {
                throw new IllegalArgumentException("SPDK malloc bdev size " + sizeBytes + " is not a multiple of 1 MiB");
            }
            String bdev = "Malloc" + BDEVS.getAndIncrement();
            spdk.rpc("bdev_malloc_create", "-b", bdev, Long.toString(sizeBytes / MIB), Integer.toString(blockSize));
            bdevs.add(bdev);
            spdk.rpc("vhost_scsi_controller_add_target", name, Integer.toString(target), bdev);
            targets.put(target, bdev);
            return bdev;
        }

        /** Removes target {@code target}: SPDK hot-detaches its LUN (an event to an attached initiator). */
        public void removeTarget(int target) {
            spdk.rpc("vhost_scsi_controller_remove_target", name, Integer.toString(target));
            targets.remove(target);
        }

        @Override
        public synchronized void close() {
            List<RuntimeException> errors = new ArrayList<>();
            for (Integer t : List.copyOf(targets.keySet())) {
                run(errors, () -> removeTarget(t));
            }
            run(errors, () -> spdk.rpc("vhost_delete_controller", name));
            for (String b : bdevs) {
                run(errors, () -> spdk.rpc("bdev_malloc_delete", b));
            }
            if (!errors.isEmpty()) {
                // the container goes at the end of the class anyway: say what was left, do not fail the suite for it
                LOG.warn("removing SPDK scsi controller {}: {}", name, errors.stream().map(Throwable::getMessage).toList());
            }
        }

        private void run(List<RuntimeException> errors, Runnable r) {
            try {
                r.run();
            } catch (RuntimeException e) {
                errors.add(e);
            }
        }
    }
}
