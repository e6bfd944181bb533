package io.jvirtio.conformance;

import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.scsi.VirtioScsiChannel;
import io.jvirtio.scsi.VirtioScsiController;
import io.jvirtio.scsi.VirtioScsiDisk;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

import static io.jvirtio.core.testing.BlkPatterns.assertSameBytes;
import static io.jvirtio.core.testing.BlkPatterns.bytes;
import static io.jvirtio.core.testing.BlkPatterns.fill;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** The I/O patterns of {@link AbstractScsiInitiatorSuite}: write and read back, at depth, across a hot-unplug. */
final class ScsiSuiteIo {
    private static final int DEPTH_IO_BYTES = 65536;
    private static final Duration DEADLINE = Duration.ofSeconds(60);

    private ScsiSuiteIo() {
    }

    /** An action that may throw, for a target's add and remove. */
    @FunctionalInterface
    interface Action {
        void run() throws Exception;
    }

    /** Bytes a thread wrote to LUN 0 of {@code target}, to look for in the store afterwards. */
    record Written(int target, long offset, byte[] data) {
    }

    /** What I/O kept in flight across a hot-unplug did: completed fine, or failed (once the removal was seen). */
    record IoAcrossRemoval(int succeeded, List<Exception> failed) {
    }

    /** @return {@code length} bytes at {@code offset} read through the disk */
    static byte[] read(VirtioScsiDisk d, SyncIo io, long offset, int length) {
        MemorySegment rd = d.allocateBuffer(length, 4096);
        try {
            rd.fill((byte) 0xA5); // so what the disk did not write cannot look right
            io.read(rd, offset);
            return bytes(rd);
        } finally {
            d.freeBuffer(rd);
        }
    }

    /** Writes a pattern of {@code seed}, reads it back and compares byte for byte. @return what was written */
    static byte[] writeReadBack(VirtioScsiDisk d, SyncIo io, long offset, int length, long seed) {
        MemorySegment w = d.allocateBuffer(length, 4096);
        try {
            fill(w, seed);
            io.write(w, offset);
            byte[] expected = bytes(w);
            assertSameBytes(expected, read(d, io, offset, length), d.name() + ": " + length + " B at " + offset + " read back");
            return expected;
        } finally {
            d.freeBuffer(w);
        }
    }

    /** As {@link #writeReadBack} with one iovec per entry of {@code lens}, written with writev and read with readv. */
    static byte[] writevReadBack(VirtioScsiDisk d, int[] lens, long offset, long seed) {
        int n = lens.length;
        int total = 0;
        for (int l : lens) {
            total += l;
        }
        MemorySegment w = d.allocateBuffer(total, 4096);
        MemorySegment rd = d.allocateBuffer(total, 4096);
        try (VirtioScsiChannel ch = d.openChannel()) {
            fill(w, seed);
            rd.fill((byte) 0xA5);
            MemorySegment[] wv = new MemorySegment[n];
            MemorySegment[] rv = new MemorySegment[n];
            long at = 0;
            for (int i = 0; i < n; i++) {
                wv[i] = w.asSlice(at, lens[i]);
                rv[i] = rd.asSlice(at, lens[i]);
                at += lens[i];
            }
            SyncIo io = new SyncIo(ch);
            io.writev(wv, n, offset);
            io.readv(rv, n, offset);
            byte[] expected = bytes(w);
            assertSameBytes(expected, bytes(rd), d.name() + ": readv of " + n + " iovecs at " + offset);
            assertSameBytes(expected, read(d, io, offset, total), d.name() + ": one read of what writev wrote");
            return expected;
        } finally {
            d.freeBuffer(w);
            d.freeBuffer(rd);
        }
    }

    /**
     * On this thread: channels on every disk (one request queue shared), {@code ios} 64 KiB writes per
     * disk at random slots of this thread's own region, {@code depth} in flight per disk, then a flush
     * and a read back of each.
     *
     * @return what was written where
     */
    static List<Written> randomWritesAtDepth(List<VirtioScsiDisk> disks, int id, int threads, long base, int ios, int depth) {
        long region = (long) ios * DEPTH_IO_BYTES;
        List<Written> written = new ArrayList<>();
        List<VirtioScsiChannel> chans = new ArrayList<>();
        try {
            for (VirtioScsiDisk d : disks) {
                chans.add(d.openChannel());
            }
            assertEquals(1, chans.stream().mapToInt(VirtioScsiChannel::queueIndex).distinct().count(),
                    "one request queue per thread, whatever the LUN");
            SplittableRandom r = new SplittableRandom(1000 + id);
            int[] done = {0};
            List<String> errors = new ArrayList<>();
            List<MemorySegment> bufs = new ArrayList<>();
            for (int k = 0; k < disks.size(); k++) {
                VirtioScsiDisk d = disks.get(k);
                long start = base + id * region;
                assertTrue(start + region <= d.blockCount() * d.blockSize(), "thread regions fit on " + d.name());
                int[] slots = shuffled(ios, r);
                for (int i = 0; i < ios; i++) {
                    long off = start + (long) slots[i] * DEPTH_IO_BYTES;
                    MemorySegment b = d.allocateBuffer(DEPTH_IO_BYTES, 4096);
                    fill(b, id * 1_000_003L + off + k);
                    bufs.add(b);
                    written.add(new Written(d.target(), off, bytes(b)));
                }
            }
            // submit disk by disk in turn, depth per disk, so both LUNs are busy on the one queue at once
            int[] next = new int[disks.size()];
            int[] inFlight = new int[disks.size()];
            long deadline = System.nanoTime() + DEADLINE.toNanos();
            while (done[0] < written.size()) {
                for (int k = 0; k < disks.size(); k++) {
                    int disk = k;
                    while (next[k] < ios && inFlight[k] < depth) {
                        int idx = k * ios + next[k];
                        Written w = written.get(idx);
                        if (!chans.get(k).write(bufs.get(idx), w.offset(), (c, e) -> {
                            inFlight[disk]--;
                            done[0]++;
                            if (e != null) {
                                errors.add(e.getMessage());
                            }
                        }, null)) {
                            break;
                        }
                        inFlight[k]++;
                        next[k]++;
                    }
                }
                chans.get(0).poll(); // completes every LUN channel of this thread's queue
                assertTrue(System.nanoTime() < deadline, "thread " + id + ": writes did not complete in " + DEADLINE);
            }
            assertEquals(List.of(), errors, "thread " + id + ": failed writes");
            for (int k = 0; k < disks.size(); k++) {
                VirtioScsiDisk d = disks.get(k);
                SyncIo io = new SyncIo(chans.get(k));
                io.flush();
                for (Written w : written.subList(k * ios, (k + 1) * ios)) {
                    assertSameBytes(w.data(), read(d, io, w.offset(), DEPTH_IO_BYTES), "thread " + id + ": " + d.name() + " at " + w.offset());
                }
            }
            for (int k = 0; k < bufs.size(); k++) {
                disks.get(k / ios).freeBuffer(bufs.get(k));
            }
            return written;
        } finally {
            chans.forEach(VirtioScsiChannel::close);
        }
    }

    private static int[] shuffled(int n, SplittableRandom r) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        return a;
    }

    /**
     * Keeps 8 writes in flight on {@code ch} while {@code removal} runs on another thread, polling the
     * channel and the controller's events, until the removal is done, the listener saw it and no I/O
     * is left: every write submitted completes, fine or with an error.
     */
    static IoAcrossRemoval ioAcrossRemoval(VirtioScsiController ctrl, VirtioScsiDisk d, VirtioScsiChannel ch, Action removal,
                                           BooleanSupplier removalSeen) {
        int depth = 8;
        int size = 16384;
        MemorySegment[] bufs = new MemorySegment[depth];
        boolean[] busy = new boolean[depth];
        int[] ok = {0};
        List<Exception> failed = new ArrayList<>();
        for (int i = 0; i < depth; i++) {
            bufs[i] = d.allocateBuffer(size, 4096);
            fill(bufs[i], i);
        }
        CompletableFuture<Void> removing = null;
        boolean refused = false;
        long deadline = System.nanoTime() + DEADLINE.toNanos();
        long n = 0;
        while (removing == null || !removing.isDone() || !removalSeen.getAsBoolean() || ch.inFlight() > 0) {
            for (int i = 0; i < depth && !refused; i++) {
                if (busy[i]) {
                    continue;
                }
                int slot = i;
                try {
                    if (ch.write(bufs[i], (n++ % 512) * size, (c, e) -> {
                        busy[slot] = false;
                        if (e == null) {
                            ok[0]++;
                        } else {
                            failed.add(e);
                        }
                    }, null)) {
                        busy[i] = true;
                    }
                } catch (BdevIoException e) {
                    refused = true; // the removal was seen: submissions are refused from now on
                }
            }
            if (removing == null && ch.inFlight() >= depth) {
                removing = CompletableFuture.runAsync(() -> {
                    try {
                        removal.run();
                    } catch (Exception e) {
                        throw new CompletionException(e);
                    }
                });
            }
            ch.poll();
            ctrl.pollEvents();
            if (System.nanoTime() > deadline) {
                fail("I/O across the removal of " + d.name() + " did not settle in " + DEADLINE + ": removal done "
                        + (removing != null && removing.isDone()) + ", listener told " + removalSeen.getAsBoolean()
                        + ", in flight " + ch.inFlight());
            }
        }
        removing.join();
        return new IoAcrossRemoval(ok[0], failed);
    }

    /** A thread writing and checking 16 KiB blocks of one disk until closed; {@link #close} fails with what it found. */
    static final class BackgroundWriter implements AutoCloseable {
        private final AtomicBoolean stop = new AtomicBoolean();
        private final AtomicLong rounds = new AtomicLong();
        private final CompletableFuture<Void> done = new CompletableFuture<>();

        BackgroundWriter(VirtioScsiDisk d, long base) {
            Thread.ofPlatform().name("suite-writer-" + d.name()).daemon().start(() -> {
                try (VirtioScsiChannel ch = d.openChannel()) {
                    SyncIo io = new SyncIo(ch);
                    for (long i = 0; !stop.get(); i++) {
                        writeReadBack(d, io, base + (i % 64) * 16384, 16384, 7_000_000 + i);
                        rounds.incrementAndGet();
                    }
                    done.complete(null);
                } catch (Throwable e) {
                    done.completeExceptionally(e);
                }
            });
        }

        long rounds() {
            return rounds.get();
        }

        /** Waits until the writer has done {@code n} rounds, or fails with its error or a timeout. */
        void awaitRounds(long n) throws Exception {
            long deadline = System.nanoTime() + DEADLINE.toNanos();
            while (rounds.get() < n) {
                if (done.isDone()) {
                    done.get(); // throws the writer's failure
                    fail("the writer stopped");
                }
                assertTrue(System.nanoTime() < deadline, "the writer did " + rounds.get() + " of " + n + " rounds in " + DEADLINE);
                Thread.sleep(1);
            }
        }

        @Override
        public void close() throws Exception {
            stop.set(true);
            done.get(30, TimeUnit.SECONDS);
        }
    }
}
