package io.jvirtio.scsi;

import io.jvirtio.spec.scsi.ScsiSpec;
import io.jvirtio.spec.scsi.VirtioScsiSpec;

import io.jvirtio.backend.fault.InjectedError;
import io.jvirtio.backend.fault.UsedRingFault;
import io.jvirtio.backend.scsi.CommandFilter;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import io.jvirtio.backend.scsi.SenseCode;
import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.core.ring.RingViolationException;
import io.jvirtio.spec.VirtioException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;

import static io.jvirtio.scsi.ScsiTestSupport.assertSameBytes;
import static io.jvirtio.scsi.ScsiTestSupport.fill;
import static io.jvirtio.scsi.ScsiTestSupport.testOptions;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every error path of the I/O path, driven by the Java target's fault injection. */
class ScsiErrorTest {
    @TempDir
    Path dir;
    private JavaScsiTarget target;
    private VirtioScsiController ctrl;
    private VirtioScsiDisk disk;
    private VirtioScsiChannel ch;
    private SyncIo io;
    private MemorySegment buf;

    @BeforeEach
    void setUp() {
        target = JavaScsiTarget.start(dir.resolve("scsi.sock"), ScsiModelOptions.builder().name("tgt").requestQueues(2).build());
        target.addLun(0, 0, 1 << 20, 512);
        target.addLun(0, 1, 1 << 20, 4096);
        ctrl = VirtioScsiController.connectVhostUser("E", target.socket(), testOptions());
        disk = ctrl.disk(0, 0).orElseThrow();
        ch = disk.openChannel();
        io = new SyncIo(ch, Duration.ofSeconds(10).toNanos());
        buf = disk.allocateBuffer(8192, 4096);
        fill(buf, 1);
    }

    @AfterEach
    void tearDown() {
        if (ch != null) {
            ch.close();
        }
        if (ctrl != null) {
            ctrl.close();
        }
        if (target != null) {
            target.close();
        }
    }

    private ScsiIoException failingRead() {
        VirtioException e = assertThrows(VirtioException.class, () -> io.read(buf, 0));
        return assertInstanceOf(ScsiIoException.class, e, e.toString());
    }

    @Test
    void checkConditionSenseIsDecodedAndNamed() {
        target.faults().failNext(CommandFilter.lun(0, 0).withOpcode(0x28), 1, SenseCode.UNRECOVERED_READ_ERROR);
        ScsiIoException e = failingRead();
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_OK, e.response());
        assertEquals(ScsiSpec.STATUS_CHECK_CONDITION, e.status());
        assertEquals(ScsiSpec.KEY_MEDIUM_ERROR, e.sense().key());
        assertEquals(0x11, e.sense().asc());
        assertTrue(e.getMessage().contains("bdev Et0: READ (10) of 16 block(s) at LBA 0 (read at offset 0) failed: SCSI status CHECK CONDITION,"
                + " sense MEDIUM ERROR (0x3), ASC/ASCQ 0x11/0x00 UNRECOVERED READ ERROR"), e.getMessage());

        target.faults().failNext(1, SenseCode.WRITE_PROTECTED);
        VirtioException w = assertThrows(VirtioException.class, () -> io.write(buf, 4096));
        assertTrue(w.getMessage().contains("WRITE (10) of 16 block(s) at LBA 8") && w.getMessage().contains("DATA PROTECT (0x7), ASC/ASCQ 0x27/0x00 WRITE PROTECTED"),
                w.getMessage());
        // the channel keeps working
        io.write(buf, 0);
        assertSameBytes(buf, target.ram(0, 0).contents().asSlice(0, buf.byteSize()), "after the errors");
    }

    @Test
    void notReadyIsNotRetried() {
        target.faults().failNext(1, SenseCode.NOT_READY_INIT_REQUIRED);
        ScsiIoException e = failingRead();
        assertTrue(e.getMessage().contains("NOT READY (0x2), ASC/ASCQ 0x04/0x02 LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED"),
                e.getMessage());
        io.read(buf, 0);
    }

    @ParameterizedTest
    @ValueSource(ints = {VirtioScsiSpec.VIRTIO_SCSI_S_OVERRUN, VirtioScsiSpec.VIRTIO_SCSI_S_ABORTED, VirtioScsiSpec.VIRTIO_SCSI_S_BAD_TARGET, VirtioScsiSpec.VIRTIO_SCSI_S_RESET,
        VirtioScsiSpec.VIRTIO_SCSI_S_TRANSPORT_FAILURE, VirtioScsiSpec.VIRTIO_SCSI_S_TARGET_FAILURE, VirtioScsiSpec.VIRTIO_SCSI_S_NEXUS_FAILURE, VirtioScsiSpec.VIRTIO_SCSI_S_FAILURE,
        VirtioScsiSpec.VIRTIO_SCSI_S_INCORRECT_LUN})
    void virtioResponseCodesAreClearErrors(int response) {
        target.faults().respondNext(1, response);
        ScsiIoException e = failingRead();
        assertEquals(response, e.response());
        assertEquals(-1, e.status());
        assertNull(e.sense());
        assertTrue(e.getMessage().contains("failed: " + VirtioScsiSpec.responseName(response) + " ("
                + VirtioScsiSpec.responseMeaning(response) + ")"), e.getMessage());
        io.read(buf, 0);
        ctrl.pollEvents();                       // BAD_TARGET / INCORRECT_LUN asked for a rescan: the LUN is still there
        assertTrue(ctrl.disk(0, 0).isPresent());
        assertTrue(!disk.isRemoved());
    }

    @Test
    void busyIsRetriedWithinBounds() {
        target.faults().respondNext(3, VirtioScsiSpec.VIRTIO_SCSI_S_BUSY);
        io.write(buf, 0);                        // three BUSY answers, then it goes through
        assertSameBytes(buf, target.ram(0, 0).contents().asSlice(0, buf.byteSize()), "after BUSY");
        assertEquals(0, target.faults().pendingRules());

        target.faults().respondNext(50, VirtioScsiSpec.VIRTIO_SCSI_S_BUSY);
        ScsiIoException e = failingRead();
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_BUSY, e.response());
        assertTrue(e.getMessage().contains("VIRTIO_SCSI_S_BUSY (the device is busy)"), e.getMessage());
        target.faults().clear();
        io.read(buf, 0);
    }

    @Test
    void unitAttentionIsRetriedWithinBounds() {
        target.faults().failNext(2, SenseCode.POWER_ON_RESET);
        io.write(buf, 0);
        assertSameBytes(buf, target.ram(0, 0).contents().asSlice(0, buf.byteSize()), "after two unit attentions");

        target.faults().failNext(CommandFilter.lun(0, 0), 20, SenseCode.POWER_ON_RESET);
        ScsiIoException e = failingRead();
        assertTrue(e.sense().isUnitAttention());
        assertTrue(e.getMessage().contains("UNIT ATTENTION (0x6), ASC/ASCQ 0x29/0x00 POWER ON, RESET, OR BUS DEVICE RESET OCCURRED"
                + " (after " + ScsiRetryPolicy.MAX_UNIT_ATTENTION_RETRIES + " retries)"), e.getMessage());
        target.faults().clear();
        io.read(buf, 0);
    }

    @Test
    void aTransportInjectedFailureIsAMediumError() {
        target.target.faults().failNextRequests(1);
        ScsiIoException e = failingRead();
        assertEquals(ScsiSpec.KEY_MEDIUM_ERROR, e.sense().key());
        target.target.faults().failNextRequests(1, InjectedError.sense(0x4, 0x44, 0x00));
        e = failingRead();
        assertTrue(e.getMessage().contains("HARDWARE ERROR (0x4), ASC/ASCQ 0x44/0x00 INTERNAL TARGET FAILURE"), e.getMessage());
    }

    @Test
    void aFailedCommandOfASplitIoFailsItOnceAndStopsIt() {
        VirtioScsiDisk d = ctrl.disk(0, 1).orElseThrow();                  // 4 KiB blocks, 4 MiB max transfer
        try (VirtioScsiChannel c = d.openChannel()) {
            MemorySegment big = d.allocateBuffer(512 * 1024, 4096);
            // seg_max 126: 512 KiB in 128 iovecs of 4 KiB takes 2 commands
            MemorySegment[] iovs = new MemorySegment[128];
            for (int i = 0; i < iovs.length; i++) {
                iovs[i] = big.asSlice(i * 4096L, 4096);
            }
            target.faults().failNext(CommandFilter.lun(0, 1), 1, SenseCode.WRITE_ERROR);
            ScsiTestSupport.Outcome o = new ScsiTestSupport.Outcome();
            assertTrue(c.writev(iovs, iovs.length, 0, o, null));
            o.await(c, Duration.ofSeconds(10));
            assertNotNull(o.error);
            assertTrue(o.error.getMessage().contains("WRITE ERROR"), o.error.getMessage());
            assertEquals(0, c.inFlight());
        }
    }

    @Test
    void aRejectedLunResetFailsTheReset() {
        target.faults().respondNextTmf(1, VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_REJECTED);
        ScsiIoException e = assertInstanceOf(ScsiIoException.class, assertThrows(VirtioException.class, io::reset));
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_REJECTED, e.response());
        assertTrue(e.getMessage().contains("reset (LOGICAL UNIT RESET) failed: VIRTIO_SCSI_S_FUNCTION_REJECTED"), e.getMessage());
        io.reset();                              // the next one succeeds
    }

    @Test
    void aLyingDeviceBreaksTheQueueNotTheJvm() {
        target.target.faults().corruptNextUsed(ch.queueIndex(), UsedRingFault.LEN_TOO_LARGE);
        VirtioException e = assertThrows(VirtioException.class, () -> io.read(buf, 0));
        assertInstanceOf(RingViolationException.class, e.getCause(), e.toString());
        BdevIoException refused = assertThrows(BdevIoException.class, () -> io.read(buf, 0));
        assertTrue(refused.getMessage().contains("is broken"), refused.getMessage());
        ch.close();
        ch = null;
        // the broken queue stays out of service until the device is reset: a new channel says so
        BdevIoException none = assertThrows(BdevIoException.class, disk::openChannel);
        assertTrue(none.getMessage().contains("1 broken by the device"), none.getMessage());
        // the controller's other queues still work: a rescan runs on the scan queue
        ctrl.rescan();
        assertEquals(2, ctrl.bdevs().size());
    }
}
