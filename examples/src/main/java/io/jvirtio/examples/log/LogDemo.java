package io.jvirtio.examples.log;

import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.bdev.async.AsyncBdev;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The record log end to end, as an engine would embed jvirtio: a Java vhost-user target with a RAM disk
 * in this process (any vhost-user-blk socket would do: SPDK's, qemu-storage-daemon's), {@value #THREADS}
 * virtual threads appending {@value #PER_THREAD} records each, a flush, a detach, a fresh attach, the log
 * reopened by a scan and every record read back and compared.
 */
public final class LogDemo {
    static final int THREADS = 200;
    static final int PER_THREAD = 20;

    private LogDemo() {
    }

    /** @param args {@code [SOCKET]}: a vhost-user-blk socket to use instead of the in-process target */
    public static void main(String[] args) throws Exception {
        if (args.length == 1) {
            System.out.println(run(Path.of(args[0])));
            return;
        }
        Path dir = Files.createTempDirectory("jvirtio-log-");
        RamBlockStore store = new RamBlockStore(64L << 20, false); // the target closes it
        try (VhostUserTarget target = VhostUserTarget.builder().name("log0").socket(dir.resolve("log0.sock"))
                     .blk(store, BlkModelOptions.builder().blockSize(512).numQueues(1).build()).start()) {
            System.out.println(run(target.socketPath()));
        } finally {
            Files.deleteIfExists(dir.resolve("log0.sock"));
            Files.deleteIfExists(dir);
        }
    }

    /** Appends, flushes, detaches, re-attaches, reopens and verifies; returns a summary line. */
    static String run(Path socket) throws Exception {
        VirtioBlkOptions options = VirtioBlkOptions.defaults().withQueueSize(256);
        long t0 = System.nanoTime();
        try (VirtioBlkDevice dev = VirtioBlkDevice.connectVhostUser("Log0", socket, options); AsyncBdev io = AsyncBdev.open(dev)) {
            RecordLog log = RecordLog.create(io);
            try (ExecutorService vts = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<?>> all = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    int thread = t;
                    all.add(vts.submit(() -> {
                        for (int i = 0; i < PER_THREAD; i++) {
                            long key = (long) thread * PER_THREAD + i;
                            log.append(key, payload(key));
                        }
                        return null;
                    }));
                }
                for (Future<?> f : all) {
                    f.get();
                }
            }
            log.flush();
        }
        long appended = System.nanoTime();
        int found;
        try (VirtioBlkDevice dev = VirtioBlkDevice.connectVhostUser("Log0", socket, options); AsyncBdev io = AsyncBdev.open(dev)) {
            RecordLog log = RecordLog.open(io);
            found = log.size();
            try (ExecutorService vts = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<?>> all = new ArrayList<>();
                for (long key = 0; key < (long) THREADS * PER_THREAD; key++) {
                    long k = key;
                    all.add(vts.submit(() -> {
                        byte[] got = log.read(k).orElseThrow(() -> new IllegalStateException("record " + k + " not found after reopen"));
                        if (!java.util.Arrays.equals(got, payload(k))) {
                            throw new IllegalStateException("record " + k + " differs after reopen");
                        }
                        return null;
                    }));
                }
                for (Future<?> f : all) {
                    f.get();
                }
            }
        }
        long done = System.nanoTime();
        return String.format("record log: %d records appended by %d virtual threads and flushed in %.0f ms; reopened (%d found by the scan),"
                + " all read back and equal in %.0f ms", THREADS * PER_THREAD, THREADS, (appended - t0) / 1e6, found, (done - appended) / 1e6);
    }

    /** A payload of a length and content that depend on the key (17..~1,100 bytes). */
    static byte[] payload(long key) {
        StringBuilder sb = new StringBuilder("record ").append(key).append(':');
        for (int i = 0; i < (key * 37) % 100; i++) {
            sb.append(" v").append(key * i);
        }
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }
}
