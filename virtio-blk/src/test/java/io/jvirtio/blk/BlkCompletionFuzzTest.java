package io.jvirtio.blk;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.IoCallback;
import io.jvirtio.core.ring.RingViolation;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.spec.blk.VirtioBlkSpec;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static io.jvirtio.spec.blk.VirtioBlkSpec.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Fuzz target 4 (completion path): the real driver's channel ({@link VirtioBlkChannel}) against an
 * in-process device ({@link SimulatedBlkBackend}) that executes every request and then reports, from
 * the fuzz input, any status byte (or none) and any used len (0, short, exact, past the writable
 * bytes, past everything posted). Reads, writes (one buffer or two iovecs), flushes, GET_ID,
 * discards, write-zeroes and resets, up to the ring's size in flight, the device completing them
 * inline or in batches (in order or reversed) when the input says.
 *
 * <p>Invariant: every I/O completes exactly once; submit either starts the I/O or refuses it with a
 * {@link VirtioException}; poll never throws; every error is a {@link BdevIoException} naming the
 * bdev. Unless a used len exceeded what its request posted: an I/O of one request succeeds exactly
 * when the status byte says VIRTIO_BLK_S_OK (a short or over-long len within the request does not
 * matter, as in Linux and SPDK) and otherwise fails naming that status or its absence, and a
 * successful read or write moved the right bytes. A used len past everything posted breaks the
 * queue ({@link RingViolation#LEN_TOO_LARGE}): the I/Os in flight fail, later ones are refused.
 */
class BlkCompletionFuzzTest {
    private static final String NAME = "sim0";
    private static final int MAX_IOS = 12;
    private static final int MAX_IO_SECTORS = 16;
    private static final int CAPACITY_SECTORS = 2048;
    private static final int[] QUEUE_SIZES = {4, 8, 16, 64};
    private static final long DEADLINE_NANOS = 5_000_000_000L;

    @FuzzTest(maxDuration = "10m")
    @Timeout(30)
    void completion(FuzzedDataProvider in) {
        new Run(in).run();
    }

    /** What the device reported for one request. */
    private record Answer(int type, long sector, int meant, int written, long usedLen, long posted) {
    }

    /** One I/O and its completions. */
    private static final class Io implements IoCallback {
        final int op;
        final long sector;
        final int sectors;
        final MemorySegment[] iovs;
        final byte[] payload;
        int calls;
        VirtioException error;

        Io(int op, long sector, int sectors, MemorySegment[] iovs, byte[] payload) {
            this.op = op;
            this.sector = sector;
            this.sectors = sectors;
            this.iovs = iovs;
            this.payload = payload;
        }

        @Override
        public void onComplete(Object context, VirtioException e) {
            calls++;
            error = e;
        }

        int type() {
            return switch (op) {
                case 0 -> VIRTIO_BLK_T_IN;
                case 1 -> VIRTIO_BLK_T_OUT;
                case 2 -> VIRTIO_BLK_T_FLUSH;
                case 3 -> VIRTIO_BLK_T_GET_ID;
                default -> -1; // several requests, or none
            };
        }
    }

    private static final class Run {
        private final FuzzedDataProvider in;
        private final SimulatedBlkBackend sim = new SimulatedBlkBackend(CAPACITY_SECTORS);
        private final List<Answer> answers = new ArrayList<>();
        private final List<Io> ios = new ArrayList<>();
        private boolean overlong;

        Run(FuzzedDataProvider in) {
            this.in = in;
        }

        void run() {
            boolean inline = in.consumeBoolean() || in.remainingBytes() == 0;
            if (in.consumeBoolean()) {
                sim.indirect();
            }
            if (in.consumeBoolean()) {
                sim.eventIdx();
            }
            if (in.consumeBoolean()) {
                sim.segMax(in.consumeInt(1, 4));
            }
            sim.discard(in.consumeInt(1, 64), in.consumeInt(1, 3));
            sim.writeZeroes(in.consumeInt(1, 64), in.consumeInt(1, 3));
            sim.autoProcess(inline);
            sim.lie(this::answer);
            int queueSize = QUEUE_SIZES[in.consumeInt(0, QUEUE_SIZES.length - 1)];
            try (VirtioBlkDevice blk = sim.attach(SimulatedBlkBackend.options().withQueueSize(queueSize).withMemoryBytes(4L << 20));
                 VirtioBlkChannel ch = blk.openChannel()) {
                sim.queue(0).reverseOrder(in.consumeBoolean());
                for (int n = in.consumeInt(1, MAX_IOS); n > 0; n--) {
                    submit(blk, ch);
                    if (!inline && in.consumeBoolean()) {
                        sim.queue(0).process(in.consumeInt(1, queueSize));
                    }
                    if (in.consumeBoolean()) {
                        ch.poll();
                    }
                }
                drain(ch, inline);
                check(ch);
            }
            assertTrue(sim.destructed(), "the transport was not destructed");
            assertTrue(sim.memory().regions().isEmpty(), "the memory domain is still mapped");
        }

        /** The device's report for one executed request: honest, or a status byte and used len from the input. */
        private SimulatedBlkBackend.Lie answer(SimulatedBlkBackend.Request r) {
            long posted = REQ_HEADER_SIZE + r.dataBytes() + 1;
            int honestLen = r.type() == VIRTIO_BLK_T_IN ? (int) r.dataBytes() + 1 : r.type() == VIRTIO_BLK_T_GET_ID ? VIRTIO_BLK_ID_BYTES + 1 : 1;
            SimulatedBlkBackend.Lie lie = switch (in.consumeInt(0, 3)) {
                case 0 -> null;
                case 1 -> new SimulatedBlkBackend.Lie(status(), -1);
                case 2 -> new SimulatedBlkBackend.Lie(r.status(), usedLen(posted, honestLen));
                default -> new SimulatedBlkBackend.Lie(in.consumeBoolean() ? -1 : in.consumeInt(0, 255), usedLen(posted, honestLen));
            };
            int written = lie == null ? r.status() : lie.status();
            long len = lie == null || lie.usedLen() < 0 ? (written >= 0 ? honestLen : honestLen - 1) : lie.usedLen();
            answers.add(new Answer(r.type(), r.sector(), r.status(), written, len, posted));
            overlong |= len > posted;
            return lie;
        }

        private int status() {
            return switch (in.consumeInt(0, 4)) {
                case 0 -> VIRTIO_BLK_S_OK;
                case 1 -> VIRTIO_BLK_S_IOERR;
                case 2 -> VIRTIO_BLK_S_UNSUPP;
                case 3 -> -1;
                default -> in.consumeInt(0, 255);
            };
        }

        private long usedLen(long posted, int honest) {
            return switch (in.consumeInt(0, 6)) {
                case 0 -> 0;
                case 1 -> Math.max(0, honest - 1);
                case 2 -> honest + 1;
                case 3 -> posted;
                case 4 -> posted + 1;
                case 5 -> Integer.toUnsignedLong(in.consumeInt());
                default -> in.consumeLong(0, posted);
            };
        }

        private void submit(VirtioBlkDevice blk, VirtioBlkChannel ch) {
            int op = in.consumeInt(0, 6);
            int sectors = in.consumeInt(1, MAX_IO_SECTORS);
            long sector = in.consumeLong(0, CAPACITY_SECTORS - sectors);
            long bytes = (long) sectors << SECTOR_SHIFT;
            MemorySegment[] iovs;
            byte[] payload = null;
            if (op == 3) {
                iovs = new MemorySegment[] {blk.allocateBuffer(VIRTIO_BLK_ID_BYTES, 64)};
            } else if (op <= 1) {
                if (sectors > 1 && in.consumeBoolean()) {
                    long first = (long) in.consumeInt(1, sectors - 1) << SECTOR_SHIFT;
                    iovs = new MemorySegment[] {blk.allocateBuffer(first, 512), blk.allocateBuffer(bytes - first, 512)};
                } else {
                    iovs = new MemorySegment[] {blk.allocateBuffer(bytes, 512)};
                }
                if (op == 1) {
                    payload = new byte[(int) bytes];
                    for (int i = 0; i < payload.length; i++) {
                        payload[i] = (byte) (i * 7 + sector + ios.size());
                    }
                    long at = 0;
                    for (MemorySegment s : iovs) {
                        MemorySegment.copy(MemorySegment.ofArray(payload), at, s, 0, s.byteSize());
                        at += s.byteSize();
                    }
                }
            } else {
                iovs = new MemorySegment[0];
            }
            Io io = new Io(op, sector, sectors, iovs, payload);
            long offset = sector << SECTOR_SHIFT;
            boolean started;
            try {
                started = switch (op) {
                    case 0 -> iovs.length == 1 ? ch.read(iovs[0], offset, io, null) : ch.readv(iovs, iovs.length, offset, io, null);
                    case 1 -> iovs.length == 1 ? ch.write(iovs[0], offset, io, null) : ch.writev(iovs, iovs.length, offset, io, null);
                    case 2 -> ch.flush(io, null);
                    case 3 -> ch.getId(iovs[0], io, null);
                    case 4 -> ch.unmap(offset, bytes, io, null);
                    case 5 -> ch.writeZeroes(offset, bytes, io, null);
                    default -> ch.reset(io, null);
                };
            } catch (VirtioException e) {
                assertInstanceOf(BdevIoException.class, e, "a refusal of another type");
                assertTrue(e.getMessage().contains(NAME), "a refusal that does not name the bdev: " + e.getMessage());
                assertTrue(overlong || ch.queue().isBroken(), "an I/O refused on a sound queue: " + e.getMessage());
                return;
            }
            if (started) {
                ios.add(io);
            }
        }

        private void drain(VirtioBlkChannel ch, boolean inline) {
            long deadline = System.nanoTime() + DEADLINE_NANOS;
            while (ch.inFlight() > 0) {
                if (!inline) {
                    sim.queue(0).process();
                }
                ch.poll();
                if (System.nanoTime() - deadline > 0) {
                    fail(ch.inFlight() + " I/O(s) never completed");
                }
            }
        }

        private void check(VirtioBlkChannel ch) {
            for (Io io : ios) {
                assertEquals(1, io.calls, "op " + io.op + " at sector " + io.sector + " completed " + io.calls + " times");
                if (io.error != null) {
                    assertInstanceOf(BdevIoException.class, io.error, "an error of another type");
                    assertTrue(io.error.getMessage().contains(NAME), "an error that does not name the bdev: " + io.error.getMessage());
                }
            }
            if (overlong) {
                // the I/O whose request had the len may already have failed on another part's status
                assertTrue(ch.queue().isBroken(), "a used len past everything posted did not break the queue");
                assertEquals(RingViolation.LEN_TOO_LARGE, ch.queue().brokenCause().violation(), ch.queue().brokenReason());
                return;
            }
            assertTrue(!ch.queue().isBroken(), "the queue broke: " + ch.queue().brokenReason());
            for (Io io : ios) {
                checkOutcome(io);
            }
        }

        /**
         * An I/O of exactly one request, the only one of its type in its range (flush, GET_ID: the only one
         * of its type): its outcome follows from the answer.
         */
        private void checkOutcome(Io io) {
            int type = io.type();
            boolean rw = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_OUT;
            Answer only = null;
            for (Answer a : answers) {
                if (a.type() == type && (!rw || (a.sector() >= io.sector && a.sector() < io.sector + io.sectors))) {
                    if (only != null) {
                        return;
                    }
                    only = a;
                }
            }
            if (only == null || (rw && only.sector() != io.sector)) {
                return;
            }
            String what = "op " + io.op + " at sector " + io.sector + " answered " + only;
            if (only.written() != VIRTIO_BLK_S_OK) {
                assertNotNull(io.error, what + ": succeeded");
                String name = only.written() < 0 || only.written() == 0xFF ? "no status" : VirtioBlkSpec.statusName(only.written());
                assertTrue(io.error.getMessage().contains(name), what + ": " + io.error.getMessage());
                return;
            }
            assertEquals(null, io.error, what);
            if (only.meant() != VIRTIO_BLK_S_OK) {
                return;
            }
            long offset = io.sector << SECTOR_SHIFT;
            byte[] disk = sim.diskBytes(offset, io.sectors << SECTOR_SHIFT);
            if (io.op == 0) {
                byte[] read = new byte[disk.length];
                long at = 0;
                for (MemorySegment s : io.iovs) {
                    MemorySegment.copy(s, JAVA_BYTE, 0, read, (int) at, (int) s.byteSize());
                    at += s.byteSize();
                }
                // a later write may have changed the disk; only an unchanged range is compared
                if (!overwrittenLater(io)) {
                    assertTrue(Arrays.equals(disk, read), what + ": read other bytes than the disk holds");
                }
            } else if (io.op == 1 && !overwrittenLater(io)) {
                assertTrue(Arrays.equals(disk, io.payload), what + ": the disk does not hold what was written");
            }
        }

        /** @return whether an I/O submitted after {@code io} may have changed its range */
        private boolean overwrittenLater(Io io) {
            for (int i = ios.indexOf(io) + 1; i < ios.size(); i++) {
                Io o = ios.get(i);
                if (o.op == 1 || o.op == 4 || o.op == 5) {
                    if (o.sector < io.sector + io.sectors && io.sector < o.sector + o.sectors) {
                        return true;
                    }
                }
            }
            return false;
        }
    }
}
