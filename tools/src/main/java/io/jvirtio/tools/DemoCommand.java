package io.jvirtio.tools;

import io.jvirtio.bdev.IoType;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.blk.VirtioBlkChannel;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.testkit.QemuStorageDaemon;
import io.jvirtio.tools.perf.JobRunner;
import io.jvirtio.tools.perf.PerfJob;
import io.jvirtio.tools.perf.PerfReport;
import io.jvirtio.tools.perf.PerfResult;
import io.jvirtio.tools.perf.ProcessCpu;
import io.jvirtio.tools.perf.Workload;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * {@code jvirtio demo --qsd}: qemu-storage-daemon exports a temporary file over vhost-user-blk; jvirtio
 * attaches, writes patterns from two threads on two queues, reads them back, checks the file on
 * the host byte for byte, zeroes and discards a range, measures a few seconds of random reads, and
 * prints what it did. Without {@code --qsd}, {@link EmbeddedDemo} runs on the Java target instead.
 */
@Command(name = "demo", description = {
        "Run the Java vhost-user target in this process (a RAM virtio-blk device and a virtio-scsi controller with 2 LUNs),"
                + " attach it through an SPDK JSON config, verify every bdev, measure random reads at -q 1 and -q 32 (one job at a time),"
                + " print bdev_get_bdevs and save_config.",
        "With --qsd: the same checks against qemu-storage-daemon exporting a temporary file, verified against the file on the host."})
final class DemoCommand implements Callable<Integer> {
    private static final long IMAGE_BYTES = 64L << 20;
    private static final int QUEUES = 2;

    private final Cli cli;

    @Option(names = "-t", paramLabel = "SECONDS", description = "How long each random-read job measures, at least 1 (default: 2 per bdev and depth, with --qsd 3).")
    Long seconds;

    @Option(names = "--qsd", description = "Use qemu-storage-daemon (installed with apt-get when missing and run as root).")
    boolean qsd;

    DemoCommand(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws Exception {
        long t = seconds != null ? seconds : qsd ? 3 : 2;
        if (t < 1) {
            throw new UserError("-t " + t + ": measure for at least 1 second");
        }
        return qsd ? runQsd(t, cli.out()) : EmbeddedDemo.run(t, cli);
    }

    private int runQsd(long seconds, PrintStream out) throws Exception {
        QsdInstaller.ensureInstalled(out);
        Path dir = Files.createTempDirectory("jvirtio-demo-");
        Path image = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(IMAGE_BYTES);
        }
        out.println("== jvirtio demo ==");
        try (QemuStorageDaemon qsd = QemuStorageDaemon.file(image).numQueues(QUEUES).start()) {
            out.printf("started qemu-storage-daemon (pid %d) exporting %s (%d MiB) on %s%n", qsd.pid(), image, IMAGE_BYTES >> 20,
                    qsd.socketPath());
            try (VirtioBlkDevice blk = VirtioBlkDevice.connectVhostUser("VirtioBlk0", qsd.socketPath(),
                    VirtioBlkOptions.defaults().withRequestQueues(QUEUES).withQueueSize(128))) {
                describe(blk, out);
                verifyFromThreads(blk, image, out);
                zeroAndDiscard(blk, image, out);
                measure(blk, qsd.pid(), seconds, out);
                out.println("driver_specific: " + blk.driverSpecificInfo());
            }
        } finally {
            Files.deleteIfExists(image);
            Files.deleteIfExists(dir);
        }
        out.println("demo finished: every byte read back and every byte in the host file matched what was written");
        return 0;
    }

    private static void describe(VirtioBlkDevice blk, PrintStream out) {
        out.printf(Locale.ROOT, "attached %s: %d blocks of %d bytes (%d MiB), %d request queues of %d, features 0x%x%n",
                blk.name(), blk.blockCount(), blk.blockSize(), blk.blockCount() * blk.blockSize() >> 20, blk.maxChannels(),
                blk.device().queue(0).size(), blk.device().negotiatedFeatures());
        out.printf(Locale.ROOT, "  size_max %d, seg_max %d, max_discard_sectors %d, max_write_zeroes_sectors %d; supports %s%n",
                blk.config().sizeMax(), blk.config().segMax(), blk.config().maxDiscardSectors(),
                blk.config().maxWriteZeroesSectors(), blk.supportedIoTypes());
    }

    /** Two threads, one queue each, write patterns of 512 B .. 1 MiB (the larger ones as several iovecs). */
    private static void verifyFromThreads(VirtioBlkDevice blk, Path image, PrintStream out) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(QUEUES);
        try {
            Future<?>[] f = new Future<?>[QUEUES];
            for (int t = 0; t < QUEUES; t++) {
                int id = t;
                f[t] = pool.submit(() -> {
                    writeReadVerify(blk, image, id, out);
                    return null;
                });
            }
            for (Future<?> x : f) {
                x.get();
            }
        } finally {
            pool.shutdown();
        }
    }

    private static void writeReadVerify(VirtioBlkDevice blk, Path image, int thread, PrintStream out) throws IOException {
        int[] sizes = {512, 4096, 65536, 1 << 20};
        long half = IMAGE_BYTES / QUEUES;
        SplittableRandom random = new SplittableRandom(thread);
        try (VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = new SyncIo(ch);
            long bytes = 0;
            int ops = 0;
            for (int round = 0; round < 4; round++) {
                for (int size : sizes) {
                    long offset = thread * half + random.nextLong((half - size) / 512) * 512;
                    int iovcnt = size >= 65536 ? 4 : 1;
                    MemorySegment[] w = new MemorySegment[iovcnt];
                    MemorySegment[] r = new MemorySegment[iovcnt];
                    for (int i = 0; i < iovcnt; i++) {
                        w[i] = blk.allocateBuffer(size / iovcnt, 4096);
                        r[i] = blk.allocateBuffer(size / iovcnt, 4096);
                        fill(w[i], random.nextLong());
                    }
                    io.writev(w, iovcnt, offset);
                    io.readv(r, iovcnt, offset);
                    io.flush();
                    byte[] written = concat(w);
                    if (!Arrays.equals(written, concat(r))) {
                        throw new IllegalStateException("read-back mismatch: " + size + " bytes at " + offset);
                    }
                    if (!Arrays.equals(written, readFile(image, offset, size))) {
                        throw new IllegalStateException("host file mismatch: " + size + " bytes at " + offset);
                    }
                    for (int i = 0; i < iovcnt; i++) {
                        blk.freeBuffer(w[i]);
                        blk.freeBuffer(r[i]);
                    }
                    bytes += size;
                    ops++;
                }
            }
            out.printf(Locale.ROOT, "thread %d on %s: wrote, read back and checked %d patterns (%d KiB) against the device and %s%n",
                    thread, ch.queue().name(), ops, bytes >> 10, image.getFileName());
        }
    }

    private static void zeroAndDiscard(VirtioBlkDevice blk, Path image, PrintStream out) throws IOException {
        if (!blk.supports(IoType.WRITE_ZEROES) || !blk.supports(IoType.UNMAP)) {
            out.println("device offers no write-zeroes/discard: skipped that step");
            return;
        }
        long off = 8L << 20;
        int len = 256 * 1024;
        try (VirtioBlkChannel ch = blk.openChannel()) {
            SyncIo io = new SyncIo(ch);
            MemorySegment pattern = blk.allocateBuffer(2L * len, 4096);
            fill(pattern, 11);
            io.write(pattern, off); // so zeros afterwards can only come from write-zeroes and discard
            io.flush();
            blk.freeBuffer(pattern);
            io.writeZeroes(off, len);
            io.unmap(off + len, len);
            io.flush();
        }
        byte[] host = readFile(image, off, 2 * len);
        for (byte b : host) {
            if (b != 0) {
                throw new IllegalStateException("write-zeroes/discard range is not zero in the host file");
            }
        }
        out.printf(Locale.ROOT, "write-zeroes and discard of %d KiB each at %d: the host file reads zeros there%n", len >> 10, off);
    }

    private void measure(VirtioBlkDevice blk, long qsdPid, long seconds, PrintStream out) throws InterruptedException {
        out.printf(Locale.ROOT, "4 KiB random reads at queue depth 32 for %d s:%n", seconds);
        long wall0 = System.nanoTime();
        long jvm0 = ProcessCpu.nanos(ProcessCpu.self());
        long tgt0 = ProcessCpu.nanos(qsdPid);
        Progress progress = cli.progress(out);
        JobRunner.Outcome o = JobRunner.run(List.of(new PerfJob(blk, Workload.RANDREAD, 32, 4096, 100, seconds * 1_000_000_000L, 7)),
                progress::event, progress::update);
        progress.done();
        if (o.anyFailed()) {
            throw new IllegalStateException(String.join("; ", o.failureLines()));
        }
        PerfResult r = o.results().getFirst();
        PerfReport.Run run = new PerfReport.Run(r, ProcessCpu.nanos(ProcessCpu.self()) - jvm0, ProcessCpu.nanos(qsdPid) - tgt0,
                System.nanoTime() - wall0);
        out.print(PerfReport.table(List.of(run)));
    }

    private static void fill(MemorySegment seg, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        for (long i = 0; i < seg.byteSize(); i += 8) {
            seg.set(ValueLayout.JAVA_LONG_UNALIGNED, i, r.nextLong());
        }
    }

    private static byte[] concat(MemorySegment[] segs) {
        int n = 0;
        for (MemorySegment s : segs) {
            n += (int) s.byteSize();
        }
        byte[] out = new byte[n];
        int pos = 0;
        for (MemorySegment s : segs) {
            MemorySegment.copy(s, ValueLayout.JAVA_BYTE, 0, out, pos, (int) s.byteSize());
            pos += (int) s.byteSize();
        }
        return out;
    }

    private static byte[] readFile(Path file, long offset, int length) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(length);
            while (buf.hasRemaining() && ch.read(buf, offset + buf.position()) >= 0) {
                // keep reading until full or EOF
            }
            return buf.array();
        }
    }
}
