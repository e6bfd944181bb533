package io.jvirtio.backend.scsi;

import io.jvirtio.spec.scsi.VirtioScsiSpec;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ControlQueueTest extends ScsiTestBase {
    private static final Duration LONG = Duration.ofMinutes(10);

    @BeforeEach
    void setUp() {
        start();
        addLun(0, 0, 1 << 20, 512);
        addLun(0, 1, 1 << 20, 512);
        addLun(1, 0, 1 << 20, 512);
    }

    @Test
    void lunResetCompletesDelayedCommandsWithResetFirst() {
        model.faults().delayNext(CommandFilter.lun(0, 0), 2, LONG);
        TestInitiator.Submitted a = ini.cmd(0, 0, Cdb.rw10(true, 0, 1)).in(512).submit();
        TestInitiator.Submitted b = ini.cmd(0, 0, Cdb.rw10(false, 0, 1)).out(new byte[512]).queue(3).submit();
        TestInitiator.Response other = ini.cmd(0, 1, Cdb.testUnitReady()).run();
        assertGood(other);
        assertFalse(a.request().completed());
        assertEquals(2, model.inflightCount());
        FakeRequest tmf = ini.tmf(VirtioScsiSpec.VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 0, 0);
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_COMPLETE, TestInitiator.tmfResponse(tmf));
        assertEquals(1, tmf.awaitUsed());
        TestInitiator.Response ra = a.await();
        TestInitiator.Response rb = b.await();
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_RESET, ra);
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_RESET, rb);
        assertEquals(512, ra.residual());
        assertTrue(ra.request().sequence() < tmf.sequence() && rb.request().sequence() < tmf.sequence(),
                "commands completed before the TMF");
        assertEquals(0, model.inflightCount());
        assertGood(ini.cmd(0, 0, Cdb.testUnitReady()).run());
    }

    @Test
    void lunResetWaitsForARunningCommand() throws Exception {
        BlockingStore blocking = new BlockingStore(1 << 20);
        model.addLun(2, 0, ScsiLun.builder(blocking).build());
        CompletableFuture<TestInitiator.Submitted> running = CompletableFuture.supplyAsync(
                () -> ini.cmd(2, 0, Cdb.rw10(true, 0, 1)).in(512).submit());
        assertTrue(blocking.entered.await(5, TimeUnit.SECONDS));
        FakeRequest tmf = ini.tmf(VirtioScsiSpec.VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 2, 0, 0);
        Thread.sleep(50);
        assertFalse(tmf.completed(), "the TMF waits for the running command");
        assertEquals(1, model.pendingTmfCount());
        blocking.release.countDown();
        TestInitiator.Response r = running.get(5, TimeUnit.SECONDS).await();
        assertGood(r);
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_COMPLETE, TestInitiator.tmfResponse(tmf));
        assertTrue(r.request().sequence() < tmf.sequence());
        model.removeLun(2, 0);
        blocking.close();
    }

    @Test
    void lunResetLeavesOtherLunsAlone() {
        model.faults().delayNext(CommandFilter.any(), 2, Duration.ofMillis(300));
        TestInitiator.Submitted mine = ini.cmd(0, 0, Cdb.testUnitReady()).submit();
        TestInitiator.Submitted other = ini.cmd(0, 1, Cdb.testUnitReady()).submit();
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_COMPLETE, TestInitiator.tmfResponse(ini.tmf(VirtioScsiSpec.VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 0, 0)));
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_RESET, mine.await());
        assertGood(other.await());
        assertTrue(other.request().completingThread().contains("delay"), "completed later by the delay thread");
    }

    @Test
    void abortTaskEndsOnlyTheNamedCommand() {
        model.faults().delayNext(CommandFilter.lun(0, 0), 2, Duration.ofMillis(500));
        TestInitiator.Submitted first = ini.cmd(0, 0, Cdb.testUnitReady()).id(1001).submit();
        TestInitiator.Submitted second = ini.cmd(0, 0, Cdb.testUnitReady()).id(1002).submit();
        FakeRequest tmf = ini.tmf(VirtioScsiSpec.VIRTIO_SCSI_T_TMF_ABORT_TASK, 0, 0, 1002);
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_COMPLETE, TestInitiator.tmfResponse(tmf));
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_ABORTED, second.await());
        assertTrue(second.request().sequence() < tmf.sequence());
        assertGood(first.await());
        assertTrue(first.request().sequence() > tmf.sequence(), "the other one ran after its delay");
    }

    @Test
    void abortOfAnUnknownTaskCompletes() {
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_COMPLETE, TestInitiator.tmfResponse(ini.tmf(VirtioScsiSpec.VIRTIO_SCSI_T_TMF_ABORT_TASK, 0, 0, 42)));
    }

    @Test
    void abortTaskSetAndClearTaskSet() {
        model.faults().delayNext(CommandFilter.lun(0, 1), 2, LONG);
        TestInitiator.Submitted a = ini.cmd(0, 1, Cdb.testUnitReady()).submit();
        TestInitiator.Submitted b = ini.cmd(0, 1, Cdb.testUnitReady()).submit();
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_COMPLETE, TestInitiator.tmfResponse(ini.tmf(VirtioScsiSpec.VIRTIO_SCSI_T_TMF_ABORT_TASK_SET, 0, 1, 0)));
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_ABORTED, a.await());
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_ABORTED, b.await());
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_COMPLETE, TestInitiator.tmfResponse(ini.tmf(VirtioScsiSpec.VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET, 0, 1, 0)));
    }

    @Test
    void itNexusResetEndsEveryLunOfTheTarget() {
        model.faults().delayNext(CommandFilter.any(), 3, LONG);
        TestInitiator.Submitted l0 = ini.cmd(0, 0, Cdb.testUnitReady()).submit();
        TestInitiator.Submitted l1 = ini.cmd(0, 1, Cdb.testUnitReady()).submit();
        TestInitiator.Submitted t1 = ini.cmd(1, 0, Cdb.testUnitReady()).submit();
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_COMPLETE, TestInitiator.tmfResponse(ini.tmf(VirtioScsiSpec.VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET, 0, 9, 0)));
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_RESET, l0.await());
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_RESET, l1.await());
        assertFalse(t1.request().completed(), "target 1 untouched");
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_COMPLETE, TestInitiator.tmfResponse(ini.tmf(VirtioScsiSpec.VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET, 1, 0, 0)));
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_RESET, t1.await());
    }

    @Test
    void queryTask() {
        model.faults().delayNext(CommandFilter.lun(0, 0), 1, LONG);
        TestInitiator.Submitted held = ini.cmd(0, 0, Cdb.testUnitReady()).id(77).submit();
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_SUCCEEDED, TestInitiator.tmfResponse(ini.tmf(VirtioScsiSpec.VIRTIO_SCSI_T_TMF_QUERY_TASK, 0, 0, 77)));
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_COMPLETE, TestInitiator.tmfResponse(ini.tmf(VirtioScsiSpec.VIRTIO_SCSI_T_TMF_QUERY_TASK, 0, 0, 78)));
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_SUCCEEDED, TestInitiator.tmfResponse(ini.tmf(VirtioScsiSpec.VIRTIO_SCSI_T_TMF_QUERY_TASK_SET, 0, 0, 0)));
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_COMPLETE, TestInitiator.tmfResponse(ini.tmf(VirtioScsiSpec.VIRTIO_SCSI_T_TMF_QUERY_TASK_SET, 0, 1, 0)));
        ini.tmf(VirtioScsiSpec.VIRTIO_SCSI_T_TMF_ABORT_TASK, 0, 0, 77).awaitUsed();
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_ABORTED, held.await());
    }

    @Test
    void tmfAddressing() {
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_BAD_TARGET, TestInitiator.tmfResponse(ini.tmf(VirtioScsiSpec.VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 5, 0, 0)));
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_INCORRECT_LUN, TestInitiator.tmfResponse(ini.tmf(VirtioScsiSpec.VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 7, 0)));
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_REJECTED, TestInitiator.tmfResponse(ini.tmf(VirtioScsiSpec.VIRTIO_SCSI_T_TMF_CLEAR_ACA, 0, 0, 0)));
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_REJECTED, TestInitiator.tmfResponse(ini.tmf(99, 0, 0, 0)));
    }

    @Test
    void forcedTmfResponse() {
        model.faults().respondNextTmf(1, VirtioScsiSpec.VIRTIO_SCSI_S_BUSY);
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_BUSY, TestInitiator.tmfResponse(ini.tmf(VirtioScsiSpec.VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 0, 0)));
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_COMPLETE, TestInitiator.tmfResponse(ini.tmf(VirtioScsiSpec.VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 0, 0)));
    }

    @Test
    void asynchronousNotificationQueryReportsNoEvent() {
        for (int type : new int[] {VirtioScsiSpec.VIRTIO_SCSI_T_AN_QUERY, VirtioScsiSpec.VIRTIO_SCSI_T_AN_SUBSCRIBE}) {
            ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
            b.putInt(type).put(LunAddress.encode(0, 0)).putInt(0x7E);
            FakeRequest r = new FakeRequest(0, List.of(ini.segment(b.array())), List.of(ini.arena.allocate(5)));
            model.handle(r);
            assertEquals(5, r.awaitUsed());
            assertArrayEquals(new byte[] {0, 0, 0, 0, VirtioScsiSpec.VIRTIO_SCSI_S_OK}, r.writableBytesArray());
        }
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(VirtioScsiSpec.VIRTIO_SCSI_T_AN_QUERY).put(LunAddress.encode(6, 0)).putInt(0x7E);
        FakeRequest r = new FakeRequest(0, List.of(ini.segment(b.array())), List.of(ini.arena.allocate(5)));
        model.handle(r);
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_BAD_TARGET, r.writableBytesArray()[4]);
    }

    @Test
    void malformedControlRequests() {
        FakeRequest shortTmf = new FakeRequest(0, List.of(ini.segment(new byte[] {0, 0, 0, 0, 5, 0, 0, 0})),
                List.of(ini.arena.allocate(1)));
        model.handle(shortTmf);
        assertEquals(1, shortTmf.awaitUsed());
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FAILURE, shortTmf.writableBytesArray()[0]);
        FakeRequest noType = new FakeRequest(0, List.of(ini.segment(new byte[] {0, 0})), List.of(ini.arena.allocate(1)));
        model.handle(noType);
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FAILURE, noType.writableBytesArray()[0]);
        FakeRequest unknown = new FakeRequest(0, List.of(ini.segment(new byte[] {9, 0, 0, 0})), List.of(ini.arena.allocate(1)));
        model.handle(unknown);
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FAILURE, unknown.writableBytesArray()[0]);
        ByteBuffer tmf = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putInt(0).putInt(5).put(LunAddress.encode(0, 0));
        FakeRequest noResponse = new FakeRequest(0, List.of(ini.segment(tmf.array())), List.of());
        model.handle(noResponse);
        assertEquals(0, noResponse.awaitUsed());
        ByteBuffer an = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(1).put(LunAddress.encode(0, 0));
        FakeRequest shortAn = new FakeRequest(0, List.of(ini.segment(an.array())), List.of(ini.arena.allocate(4)));
        model.handle(shortAn);
        assertEquals(0, shortAn.awaitUsed());
    }

    @Test
    void stoppedControlQueueDropsAWaitingTmf() throws Exception {
        BlockingStore blocking = new BlockingStore(1 << 20);
        model.addLun(2, 0, ScsiLun.builder(blocking).build());
        CompletableFuture<TestInitiator.Submitted> running = CompletableFuture.supplyAsync(
                () -> ini.cmd(2, 0, Cdb.rw10(true, 0, 1)).in(512).submit());
        assertTrue(blocking.entered.await(5, TimeUnit.SECONDS));
        FakeRequest tmf = ini.tmf(VirtioScsiSpec.VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 2, 0, 0);
        model.queueStopped(VirtioScsiSpec.CONTROLQ);
        blocking.release.countDown();
        running.get(5, TimeUnit.SECONDS).await();
        Thread.sleep(50);
        assertFalse(tmf.completed(), "a TMF of a stopped queue is never completed");
        assertEquals(0, model.pendingTmfCount());
        model.removeLun(2, 0);
        blocking.close();
    }
}
