package io.jvirtio.conformance.containers;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * vhost-blk controllers made in a running SPDK container through its own RPC, each over a bdev of
 * its own: a malloc bdev (SPDK's RAM disk, invisible from the host) or an AIO bdev over an image
 * file in the bind-mounted directory (so the host can read what SPDK stored; {@code --fallocate} gives it unmap and write-zeroes).
 */
public final class SpdkBlkControllers {
    /** The bdev kinds a controller can sit on. */
    public enum Store {
        /** {@code bdev_malloc_create}: RAM inside the target. */
        MALLOC,
        /** {@code bdev_aio_create} over a file in the shared directory: visible on the host. */
        AIO
    }

    /** {@code num_queues} in SPDK's virtio-blk config: always SPDK_VHOST_MAX_VQUEUES (lib/vhost/vhost_blk.c). */
    public static final int SPDK_CONFIG_NUM_QUEUES = 256;
    /** VIRTIO_BLK_ID_BYTES: SPDK answers GET_ID with the bdev name padded with spaces to 20 bytes. */
    public static final int VIRTIO_BLK_ID_BYTES = 20;
    private static final long MIB = 1L << 20;
    private static final AtomicInteger COUNT = new AtomicInteger();

    private final TargetContainer spdk;
    private final Store store;

    /** A made controller and its bdev; {@link #close()} deletes both (and the image file). */
    public final class Controller implements AutoCloseable {
        private final String ctrlr;
        private final String bdev;
        private final Path image;

        private Controller(String ctrlr, String bdev, Path image) {
            this.ctrlr = ctrlr;
            this.bdev = bdev;
            this.image = image;
        }

        /** @return the controller's vhost-user socket on the host */
        public Path socket() {
            return spdk.socket(ctrlr);
        }

        /** @return the bdev's name, which is also its GET_ID answer */
        public String bdevName() {
            return bdev;
        }

        /** @return the GET_ID bytes SPDK gives, as text: the bdev name padded with spaces */
        public String serial() {
            return String.format("%-" + VIRTIO_BLK_ID_BYTES + "s", bdev).substring(0, VIRTIO_BLK_ID_BYTES);
        }

        /** @return the host file behind an AIO bdev, or null for malloc */
        public Path image() {
            return image;
        }

        @Override
        public void close() {
            List<RuntimeException> errors = new ArrayList<>();
            run(errors, "vhost_delete_controller", ctrlr);
            run(errors, store == Store.MALLOC ? "bdev_malloc_delete" : "bdev_aio_delete", bdev);
            if (image != null) {
                try {
                    Files.deleteIfExists(image);
                } catch (IOException e) {
                    errors.add(new IllegalStateException("deleting " + image, e));
                }
            }
            if (!errors.isEmpty()) {
                IllegalStateException e = new IllegalStateException("removing SPDK controller " + ctrlr + " failed");
                errors.forEach(e::addSuppressed);
                throw e;
            }
        }

        private void run(List<RuntimeException> errors, String... rpc) {
            try {
                spdk.rpc(rpc);
            } catch (RuntimeException e) {
                errors.add(e);
            }
        }
    }

    /**
     * @param spdk  the running SPDK container
     * @param store which bdev the controllers sit on
     */
    public SpdkBlkControllers(TargetContainer spdk, Store store) {
        this.spdk = spdk;
        this.store = store;
    }

    /**
     * Makes a bdev and a vhost-blk controller over it.
     *
     * @param sizeBytes a multiple of 1 MiB
     * @param blockSize 512 or 4096
     * @param readOnly  {@code vhost_create_blk_controller -r}
     */
    public Controller create(long sizeBytes, int blockSize, boolean readOnly) throws IOException {
        if (sizeBytes % MIB != 0) {
            throw new IllegalArgumentException("SPDK bdev size " + sizeBytes + " is not a multiple of 1 MiB");
        }
        int n = COUNT.getAndIncrement();
        String ctrlr = "jvirtio.blk" + n;
        String bdev;
        Path image = null;
        if (store == Store.MALLOC) {
            bdev = "Malloc" + n;
            spdk.rpc("bdev_malloc_create", "-b", bdev, Long.toString(sizeBytes / MIB), Integer.toString(blockSize));
        } else {
            bdev = "Aio" + n;
            image = spdk.directory().resolve(bdev + ".img");
            try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
                f.setLength(sizeBytes);
            }
            spdk.rpc("bdev_aio_create", "--fallocate", TargetContainer.CONTAINER_DIR + "/" + image.getFileName(), bdev, Integer.toString(blockSize));
        }
        try {
            if (readOnly) {
                spdk.rpc("vhost_create_blk_controller", "-r", ctrlr, bdev);
            } else {
                spdk.rpc("vhost_create_blk_controller", ctrlr, bdev);
            }
        } catch (RuntimeException e) {
            spdk.rpc(store == Store.MALLOC ? "bdev_malloc_delete" : "bdev_aio_delete", bdev);
            throw e;
        }
        return new Controller(ctrlr, bdev, image);
    }
}
