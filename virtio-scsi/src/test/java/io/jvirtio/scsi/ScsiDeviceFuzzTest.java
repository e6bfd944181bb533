package io.jvirtio.scsi;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jvirtio.bdev.IoCallback;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.scsi.SimulatedScsiBackend.Cmd;
import io.jvirtio.scsi.SimulatedScsiBackend.Reply;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.spec.scsi.ScsiSpec;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static io.jvirtio.spec.scsi.VirtioScsiSpec.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Fuzz target 3 (scan and I/O path): the real driver ({@link VirtioScsiController}) attached to an
 * in-process device ({@link SimulatedScsiBackend}) whose every answer comes from the fuzz input: the
 * scan's REPORT LUNS, INQUIRY, TEST UNIT READY / START STOP UNIT, VPD 0x00 / 0xB0 / 0xB2, MODE SENSE
 * and READ CAPACITY (10) / (16) in the order the driver sends them, then a few I/Os (read, write,
 * flush, unmap, write zeroes, LUN reset) with their response, status, sense (fixed or descriptor),
 * residual and used length, then event-queue events (raw bytes, any used length) and the rescans they
 * cause, answered from the input as well. Each answer is the honest one (the input ran out, or says
 * so), the honest one with bytes patched, a CHECK CONDITION built from a key/ASC/ASCQ, an unwritten
 * response, or all fields from the input.
 *
 * <p>Invariant: attach gives a controller whose LUNs are all validated (block size a power of two
 * from 512 to 64 KiB, a capacity that fits a long in bytes, target and LUN in range, names unique)
 * or throws a {@link VirtioException} naming the controller with the device reset, the transport
 * destructed and the memory unmapped; every I/O completes exactly once, with success or a
 * {@link VirtioException}, and a successful read or write that the device answered honestly moved
 * the right bytes; {@code pollEvents} never throws; the driver never posts a buffer outside its
 * memory domain; close leaves nothing behind (device reset, transport destructed, memory unmapped).
 *
 * <p>Answers that make the scan sleep (BUSY, TASK SET FULL, NOT READY becoming ready: 10 ms and more
 * per retry) are taken at most {@link #SLOW_SCAN_ANSWERS} times an execution, to keep executions in
 * the milliseconds; later ones get the honest answer.
 */
class ScsiDeviceFuzzTest {
    private static final String NAME = "Sim";
    private static final int SLOW_SCAN_ANSWERS = 2;
    private static final int MAX_IOS = 6;
    private static final int MAX_EVENTS = 4;
    private static final int MAX_IO_BLOCKS = 8;
    private static final Duration IO_DEADLINE = Duration.ofSeconds(5);

    /** How the device answers one command. */
    private static final int HONEST = 0;
    private static final int PATCHED = 1;
    private static final int CHECK = 2;
    private static final int UNWRITTEN = 3;
    private static final int RAW = 4;

    @FuzzTest(maxDuration = "10m")
    @Timeout(30)
    void scanAndIo(FuzzedDataProvider in) {
        new Run(in).run();
    }

    /** One execution: the device, its answers, the checks. */
    private static final class Run {
        private final FuzzedDataProvider in;
        private final SimulatedScsiBackend sim = new SimulatedScsiBackend();
        private boolean ioPhase;
        private int slowScanAnswers;
        /** answers other than the honest one given during the I/O phase */
        private int lies;

        Run(FuzzedDataProvider in) {
            this.in = in;
        }

        void run() {
            configure();
            sim.intercept(this::answer);
            VirtioScsiController c;
            try {
                c = sim.attach(SimulatedScsiBackend.options().withMemoryBytes(4L << 20).withScanTargets(2)
                        .withCommandTimeout(Duration.ofSeconds(2)));
            } catch (VirtioException e) {
                assertNotNull(e.getMessage());
                assertTrue(e.getMessage().contains(NAME), "an attach error that does not name the controller: " + e);
                assertNothingLeft();
                return;
            }
            try {
                checkDisks(c);
                io(c);
                events(c);
                checkDisks(c);
            } finally {
                c.close();
            }
            assertNothingLeft();
        }

        // ------------------------------------------------------------ the device

        /** The config space and LUNs: SPDK-like defaults, or fields from the input. */
        private void configure() {
            sim.addLun(0, 0, 512, 256);
            if (in.consumeBoolean()) {
                sim.addLun(0, 3, 4096, 32);
            }
            if (in.consumeBoolean()) {
                sim.addLun(1, 0, 512, 64);
            }
            if (in.consumeBoolean()) {
                sim.config(CFG_NUM_QUEUES, in.consumeInt(0, 3));
                sim.config(CFG_SEG_MAX, in.consumeInt(0, 4));
                sim.config(CFG_SENSE_SIZE, in.consumeInt(0, 300));
                sim.config(CFG_CDB_SIZE, in.consumeInt(12, 40));
                sim.config(CFG_EVENT_INFO_SIZE, in.consumeInt(0, 300));
            }
        }

        private Reply answer(Cmd cmd) {
            int mode = in.consumeInt(HONEST, RAW);
            Reply r = switch (mode) {
                case HONEST -> null;
                case PATCHED -> patched(sim.honest(cmd));
                case CHECK -> check();
                case UNWRITTEN -> new Reply(-1, 0, null, null, -1, in.consumeBoolean() ? -1 : in.consumeInt(0, 200));
                default -> raw();
            };
            if (r != null && !ioPhase && slowForTheScan(cmd, r) && ++slowScanAnswers > SLOW_SCAN_ANSWERS) {
                r = null;
            }
            if (r != null && ioPhase) {
                lies++;
            }
            return r;
        }

        private Reply patched(Reply honest) {
            byte[] data = honest.dataIn() == null ? new byte[0] : honest.dataIn().clone();
            if (in.consumeBoolean()) {
                data = Arrays.copyOf(data, in.consumeInt(0, data.length + 64));
            }
            for (int n = in.consumeInt(0, 6); n > 0 && data.length > 0; n--) {
                data[in.consumeInt(0, data.length - 1)] = in.consumeByte();
            }
            long residual = in.consumeBoolean() ? honest.residual() : Integer.toUnsignedLong(in.consumeInt());
            return new Reply(honest.response(), honest.status(), honest.sense(), data, residual, -1);
        }

        /** CHECK CONDITION with fixed or descriptor sense of a key/ASC/ASCQ from the input. */
        private Reply check() {
            boolean descriptor = in.consumeBoolean();
            int key = in.consumeInt(0, 15);
            byte asc = in.consumeByte();
            byte ascq = in.consumeByte();
            byte[] s = new byte[in.consumeInt(descriptor ? 8 : 18, 32)];
            if (descriptor) {
                s[0] = 0x72;
                s[1] = (byte) key;
                s[2] = asc;
                s[3] = ascq;
                s[7] = (byte) in.consumeInt(0, s.length - 8);
            } else {
                s[0] = 0x70;
                s[2] = (byte) key;
                s[7] = (byte) in.consumeInt(0, s.length - 8);
                s[12] = asc;
                s[13] = ascq;
            }
            return new Reply(VIRTIO_SCSI_S_OK, ScsiSpec.STATUS_CHECK_CONDITION, s, null, -1, -1);
        }

        /** Every field from the input. */
        private Reply raw() {
            int response = in.consumeBoolean() ? VIRTIO_SCSI_S_OK : in.consumeInt(0, 255);
            int status = in.consumeInt(0, 255);
            byte[] sense = in.consumeBoolean() ? null : in.consumeBytes(in.consumeInt(0, 300));
            byte[] data = in.consumeBoolean() ? null : in.consumeBytes(in.consumeInt(0, 600));
            long residual = in.consumeBoolean() ? -1 : Integer.toUnsignedLong(in.consumeInt());
            long usedLen = in.consumeBoolean() ? -1 : Integer.toUnsignedLong(in.consumeInt(0, 5000));
            return new Reply(response, status, sense, data, residual, usedLen);
        }

        /** @return whether the scan sleeps before retrying after this answer */
        private static boolean slowForTheScan(Cmd cmd, Reply r) {
            if (r.response() == VIRTIO_SCSI_S_BUSY) {
                return true;
            }
            if (r.response() != VIRTIO_SCSI_S_OK) {
                return false;
            }
            if (ScsiSpec.isBusyStatus(r.status())) {
                return true;
            }
            if (cmd.opcode() != ScsiSpec.TEST_UNIT_READY || r.status() != ScsiSpec.STATUS_CHECK_CONDITION || r.sense() == null) {
                return false;
            }
            ScsiSense s = ScsiSense.decode(r.sense());
            return s != null && s.isNotReady();
        }

        // ------------------------------------------------------------ the driver

        private void checkDisks(VirtioScsiController c) {
            Set<String> names = new HashSet<>();
            for (VirtioScsiDisk d : c.bdevs()) {
                ScsiLunInfo info = d.info();
                int bs = d.blockSize();
                assertTrue(bs >= 512 && bs <= 65536 && Integer.bitCount(bs) == 1, d.name() + ": block size " + bs);
                assertEquals(bs, info.blockSize(), d.name());
                long blocks = d.blockCount();
                assertTrue(blocks >= 1 && blocks <= Long.MAX_VALUE / bs, d.name() + ": " + blocks + " blocks of " + bs);
                assertTrue(info.target() >= 0 && info.target() < c.targetCount(), d.name() + ": target " + info.target());
                assertTrue(info.lun() >= 0 && info.lun() <= 0x3FFF, d.name() + ": lun " + info.lun());
                assertTrue(info.physicalBlockExponent() >= 0 && info.physicalBlockExponent() <= 15, d.name());
                assertEquals(VirtioScsiDisk.bdevName(NAME, info.target(), info.lun()), d.name());
                assertTrue(names.add(d.name()), "two bdevs named " + d.name());
                assertNotNull(d.toString());
                assertNotNull(d.driverSpecificInfo());
            }
        }

        private void io(VirtioScsiController c) {
            List<VirtioScsiDisk> disks = c.bdevs();
            if (disks.isEmpty()) {
                return;
            }
            VirtioScsiDisk d = disks.get(in.consumeInt(0, disks.size() - 1));
            ioPhase = true;
            try (VirtioScsiChannel ch = d.openChannel()) {
                for (int n = in.consumeInt(1, MAX_IOS); n > 0; n--) {
                    oneIo(c, d, ch);
                    if (in.consumeBoolean()) {
                        ioPhase = false;
                        c.pollEvents(); // rescans the I/O path asked for
                        ioPhase = true;
                    }
                }
            } finally {
                ioPhase = false;
            }
        }

        private void oneIo(VirtioScsiController c, VirtioScsiDisk d, VirtioScsiChannel ch) {
            int bs = d.blockSize();
            long maxBlocks = Math.min(MAX_IO_BLOCKS, d.blockCount());
            long blocks = in.consumeLong(1, maxBlocks);
            long lba = in.consumeLong(0, d.blockCount() - blocks);
            int op = in.consumeInt(0, 5);
            MemorySegment buf = d.allocateBuffer(blocks * bs, 4096);
            for (long i = 0; i < buf.byteSize(); i++) {
                buf.set(JAVA_BYTE, i, (byte) (i * 31 + lba));
            }
            byte[] written = op == 1 ? buf.toArray(JAVA_BYTE) : null;
            Once done = new Once();
            int liesBefore = lies;
            boolean started;
            try {
                started = switch (op) {
                    case 0 -> ch.read(buf, lba * bs, done, null);
                    case 1 -> ch.write(buf, lba * bs, done, null);
                    case 2 -> ch.flush(done, null);
                    case 3 -> ch.unmap(lba * bs, blocks * bs, done, null);
                    case 4 -> ch.writeZeroes(lba * bs, blocks * bs, done, null);
                    default -> ch.reset(done, null);
                };
            } catch (VirtioException e) {
                assertNotNull(e.getMessage(), "an I/O refused without a message");
                d.freeBuffer(buf);
                return;
            }
            assertTrue(started, "a channel with nothing in flight refused an I/O");
            long deadline = System.nanoTime() + IO_DEADLINE.toNanos();
            while (!done.done) {
                ch.poll();
                if (System.nanoTime() - deadline > 0) {
                    fail("I/O " + op + " of " + blocks + " block(s) at LBA " + lba + " on " + d.name() + " did not complete");
                }
            }
            assertEquals(1, done.calls, "completed more than once");
            if (done.error != null) {
                assertNotNull(done.error.getMessage(), "an I/O error without a message");
            } else if (lies == liesBefore && (op == 0 || op == 1)) {
                SimulatedScsiBackend.Lun lun = sim.lun(d.target(), d.lun());
                if (lun != null && lun.blockSize == bs && lba + blocks <= lun.blocks) {
                    byte[] expected = Arrays.copyOfRange(lun.data, (int) (lba * bs), (int) ((lba + blocks) * bs));
                    byte[] actual = op == 0 ? buf.toArray(JAVA_BYTE) : written;
                    assertTrue(Arrays.equals(expected, actual), d.name() + ": op " + op + " at LBA " + lba
                            + " answered honestly moved other bytes");
                }
            }
            d.freeBuffer(buf);
        }

        private void events(VirtioScsiController c) {
            int size = c.config().eventBufferSize();
            for (int n = in.consumeInt(0, MAX_EVENTS); n > 0; n--) {
                byte[] e = new byte[EVENT_SIZE];
                MemorySegment s = MemorySegment.ofArray(e);
                if (in.consumeBoolean()) {
                    e = in.consumeBytes(size);
                } else {
                    int event = in.consumeInt(0, 4);
                    s.set(LE_INT, EVENT_EVENT, in.consumeBoolean() ? event | VIRTIO_SCSI_T_EVENTS_MISSED : event);
                    s.set(JAVA_BYTE, EVENT_LUN, in.consumeBoolean() ? (byte) 1 : in.consumeByte());
                    s.set(JAVA_BYTE, EVENT_LUN + 1, (byte) in.consumeInt(0, 3));
                    int lun = in.consumeInt(0, 0x3FFF);
                    s.set(JAVA_BYTE, EVENT_LUN + 2, (byte) ((lun > 255 ? 0x40 : 0) | (lun >> 8)));
                    s.set(JAVA_BYTE, EVENT_LUN + 3, (byte) lun);
                    s.set(LE_INT, EVENT_REASON, in.consumeInt(0, 3));
                }
                int usedLen = in.consumeBoolean() ? e.length : in.consumeInt(0, 600);
                sim.sendRawEvent(e, usedLen);
                c.pollEvents(); // must not throw: rescans are answered from the input too
            }
        }

        private void assertNothingLeft() {
            assertNull(sim.outsideDomain(), "the driver posted a buffer outside its memory domain");
            assertTrue(sim.destructed(), "the transport was not destructed");
            assertEquals(0, sim.getStatus(), "the device was not reset");
            MemoryDomain m = sim.memory();
            assertTrue(m == null || m.regions().isEmpty(), "the memory domain is still mapped");
        }
    }

    /** Counts completions: each I/O must complete exactly once. */
    private static final class Once implements IoCallback {
        boolean done;
        int calls;
        VirtioException error;

        @Override
        public void onComplete(Object context, VirtioException e) {
            calls++;
            error = e;
            done = true;
        }
    }
}
