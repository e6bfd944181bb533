package io.jvirtio.backend.scsi;

import io.jvirtio.backend.fault.InjectedError;
import io.jvirtio.spec.scsi.ScsiSpec;
import io.jvirtio.spec.scsi.VirtioScsiSpec;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ScsiFaultInjectionTest extends ScsiTestBase {
    @BeforeEach
    void setUp() {
        start();
        addLun(0, 0, 1 << 20, 512);
        addLun(0, 1, 1 << 20, 512);
    }

    @Test
    void failNextWithSenseThenRecover() {
        SenseCode hw = new SenseCode(ScsiSpec.KEY_HARDWARE_ERROR, 0x44, 0x00);
        model.faults().failNext(2, hw);
        assertCheckCondition(hw, ini.cmd(0, 0, Cdb.rw10(true, 0, 1)).in(512).run());
        TestInitiator.Response second = ini.cmd(0, 1, Cdb.testUnitReady()).run();
        assertCheckCondition(hw, second);
        assertGood(ini.cmd(0, 0, Cdb.rw10(true, 0, 1)).in(512).run());
        assertEquals(0, model.faults().pendingRules());
    }

    @Test
    void failNextWithVirtioResponses() {
        for (int code : new int[] {VirtioScsiSpec.VIRTIO_SCSI_S_BAD_TARGET, VirtioScsiSpec.VIRTIO_SCSI_S_BUSY, VirtioScsiSpec.VIRTIO_SCSI_S_TRANSPORT_FAILURE,
                VirtioScsiSpec.VIRTIO_SCSI_S_TARGET_FAILURE, VirtioScsiSpec.VIRTIO_SCSI_S_NEXUS_FAILURE, VirtioScsiSpec.VIRTIO_SCSI_S_FAILURE, VirtioScsiSpec.VIRTIO_SCSI_S_INCORRECT_LUN}) {
            model.faults().respondNext(1, code);
            TestInitiator.Response r = ini.cmd(0, 0, Cdb.rw10(true, 0, 1)).in(512).run();
            assertResponse(code, r);
            assertEquals(512, r.residual());
        }
        assertGood(ini.cmd(0, 0, Cdb.rw10(true, 0, 1)).in(512).run());
        assertThrows(IllegalArgumentException.class, () -> model.faults().respondNext(1, VirtioScsiSpec.VIRTIO_SCSI_S_OK));
    }

    @Test
    void filtersByLunAndOpcode() {
        model.faults().respondNext(CommandFilter.lun(0, 1).withOpcode(ScsiSpec.WRITE_10), 1, VirtioScsiSpec.VIRTIO_SCSI_S_BUSY);
        assertGood(ini.cmd(0, 0, Cdb.rw10(false, 0, 1)).out(new byte[512]).run());
        assertGood(ini.cmd(0, 1, Cdb.rw10(true, 0, 1)).in(512).run());
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_BUSY, ini.cmd(0, 1, Cdb.rw10(false, 0, 1)).out(new byte[512]).run());
        assertGood(ini.cmd(0, 1, Cdb.rw10(false, 0, 1)).out(new byte[512]).run());
        model.faults().failNext(CommandFilter.opcode(ScsiSpec.INQUIRY), 1, SenseCode.INVALID_FIELD_IN_CDB);
        assertGood(ini.cmd(0, 0, Cdb.testUnitReady()).run());
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_CDB, ini.cmd(0, 0, Cdb.inquiry(false, 0, 36)).in(36).run());
        model.faults().respondNext(CommandFilter.target(3), 1, VirtioScsiSpec.VIRTIO_SCSI_S_TRANSPORT_FAILURE);
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_BAD_TARGET, ini.cmd(2, 0, Cdb.testUnitReady()).run());
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_TRANSPORT_FAILURE, ini.cmd(3, 0, Cdb.testUnitReady()).run());
    }

    @Test
    void delayedCompletionHappensLaterOnAnotherThread() {
        model.faults().delayNext(CommandFilter.lun(0, 0), 1, Duration.ofMillis(150));
        byte[] data = pattern(512, 5);
        long t0 = System.nanoTime();
        TestInitiator.Submitted w = ini.cmd(0, 0, Cdb.rw10(false, 3, 1)).out(data).submit();
        assertFalse(w.request().completed());
        assertGood(ini.cmd(0, 1, Cdb.testUnitReady()).run());
        assertGood(w.await());
        assertTrue(System.nanoTime() - t0 >= Duration.ofMillis(150).toNanos());
        assertTrue(w.request().completingThread().contains("delay"));
        TestInitiator.Response rd = ini.cmd(0, 0, Cdb.rw10(true, 3, 1)).in(512).run();
        assertEquals(data[100], rd.dataIn()[100], "the delayed write took place");
    }

    @Test
    void delayedFailure() {
        model.faults().delayNext(CommandFilter.any(), 1, Duration.ofMillis(50));
        model.faults().respondNext(1, VirtioScsiSpec.VIRTIO_SCSI_S_BUSY);
        TestInitiator.Submitted s = ini.cmd(0, 0, Cdb.testUnitReady()).submit();
        assertFalse(s.request().completed());
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_BUSY, s.await());
    }

    @Test
    void delayAllUntilCleared() {
        model.faults().delayAll(CommandFilter.lun(0, 1), Duration.ofMillis(20));
        for (int i = 0; i < 3; i++) {
            TestInitiator.Submitted s = ini.cmd(0, 1, Cdb.testUnitReady()).submit();
            assertFalse(s.request().completed());
            assertGood(s.await());
        }
        model.faults().clear();
        TestInitiator.Submitted s = ini.cmd(0, 1, Cdb.testUnitReady()).submit();
        assertTrue(s.request().completed());
    }

    @Test
    void stoppedQueueDropsItsDelayedCommands() throws Exception {
        model.faults().delayNext(CommandFilter.any(), 2, Duration.ofMillis(100));
        TestInitiator.Submitted onQ2 = ini.cmd(0, 0, Cdb.testUnitReady()).queue(2).submit();
        TestInitiator.Submitted onQ3 = ini.cmd(0, 0, Cdb.testUnitReady()).queue(3).submit();
        model.queueStopped(2);
        assertGood(onQ3.await());
        Thread.sleep(200);
        assertFalse(onQ2.request().completed(), "requests of a stopped queue are forgotten");
        assertEquals(0, model.inflightCount());
    }

    @Test
    void stoppingAQueueWaitsForItsCommandRunningOnTheDelayThread() throws Exception {
        BlockingStore blocking = new BlockingStore(1 << 20);
        model.addLun(1, 0, ScsiLun.builder(blocking).build());
        model.faults().delayNext(CommandFilter.lun(1, 0), 1, Duration.ofMillis(10));
        TestInitiator.Submitted s = ini.cmd(1, 0, Cdb.rw10(true, 0, 1)).in(512).submit();
        assertTrue(blocking.entered.await(5, TimeUnit.SECONDS), "running on the delay thread");
        CompletableFuture<Void> stop = CompletableFuture.runAsync(() -> model.queueStopped(2));
        Thread.sleep(100);
        assertFalse(stop.isDone(), "queueStopped returns only once nothing touches the queue's buffers");
        blocking.release.countDown();
        stop.get(5, TimeUnit.SECONDS);
        assertFalse(s.request().completed(), "the request of a stopped queue is not completed");
        assertEquals(0, model.inflightCount());
        model.removeLun(1, 0);
        blocking.close();
    }

    @Test
    void resetDropsEverythingHeld() throws Exception {
        model.faults().delayNext(CommandFilter.any(), 1, Duration.ofMillis(100));
        TestInitiator.Submitted held = ini.cmd(0, 0, Cdb.testUnitReady()).submit();
        model.reset();
        Thread.sleep(200);
        assertFalse(held.request().completed());
        assertEquals(0, model.inflightCount());
    }

    @Test
    void failuresInjectedByTheTransport() {
        TestInitiator.Submitted io = ini.cmd(0, 0, Cdb.rw10(true, 0, 1)).in(512).build();
        assertTrue(model.failRequest(io.request(), InjectedError.ioError()));
        TestInitiator.Response r = io.await();
        assertCheckCondition(SenseCode.UNRECOVERED_READ_ERROR, r);
        assertEquals(512, r.residual());
        TestInitiator.Submitted sensed = ini.cmd(0, 0, Cdb.testUnitReady()).build();
        assertTrue(model.failRequest(sensed.request(), InjectedError.sense(2, 0x04, 0x01)));
        assertCheckCondition(new SenseCode(2, 0x04, 0x01), sensed.await());
        FakeRequest tmf = new FakeRequest(VirtioScsiSpec.CONTROLQ, java.util.List.of(), java.util.List.of());
        assertFalse(model.failRequest(tmf, InjectedError.ioError()), "control queue requests cannot fail this way");
        assertFalse(model.failRequest(new FakeRequest(VirtioScsiSpec.EVENTQ, java.util.List.of(), java.util.List.of()),
                InjectedError.ioError()));
        assertFalse(tmf.completed());
        assertEquals(0, model.inflightCount());
    }

    @Test
    void faultHooksOnMissingLunsAreRefused() {
        assertThrows(java.util.NoSuchElementException.class, () -> model.faults().requireStartUnit(0, 9));
        assertThrows(IllegalArgumentException.class, () -> model.faults().unitAttention(0, 0, SenseCode.LBA_OUT_OF_RANGE));
        assertThrows(IllegalArgumentException.class, () -> model.faults().failNext(0, SenseCode.LBA_OUT_OF_RANGE));
    }
}
