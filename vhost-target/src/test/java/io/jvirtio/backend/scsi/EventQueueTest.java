package io.jvirtio.backend.scsi;

import io.jvirtio.spec.scsi.VirtioScsiSpec;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EventQueueTest extends ScsiTestBase {
    @BeforeEach
    void setUp() {
        create(ScsiModelOptions.builder().maxLun(511).build());
        addLun(0, 0, 1 << 20, 512);                               // configured before the driver comes
        model.featuresNegotiated(model.deviceFeatures());
    }

    /** The event a buffer holds: event, lun[8], reason. */
    private static byte[] event(int event, byte[] lun, int reason) {
        return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(event).put(lun).putInt(reason).array();
    }

    @Test
    void hotAddSendsRescanForThatLun() {
        FakeRequest buf = ini.postEventBuffer(16);
        assertEquals(1, model.postedEventBuffers());
        assertFalse(buf.completed());
        addLun(0, 300, 1 << 20, 4096);
        assertEquals(16, buf.awaitUsed());
        assertArrayEquals(event(VirtioScsiSpec.VIRTIO_SCSI_T_TRANSPORT_RESET, new byte[] {1, 0, 0x41, 0x2C, 0, 0, 0, 0},
                VirtioScsiSpec.VIRTIO_SCSI_EVT_RESET_RESCAN), buf.writableBytesArray());
        assertEquals(0, model.postedEventBuffers());
        assertGood(ini.cmd(0, 300, Cdb.testUnitReady()).run());
    }

    @Test
    void hotRemoveSendsRemovedAndTheLunIsGone() {
        FakeRequest added = ini.postEventBuffer(16);
        addLun(2, 5, 1 << 20, 512);
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_EVT_RESET_RESCAN, added.writableBytesArray()[12]);
        FakeRequest buf = ini.postEventBuffer(32);
        ScsiLun removed = model.removeLun(2, 5);
        assertFalse(removed.attached());
        assertEquals(16, buf.awaitUsed());
        byte[] w = buf.writableBytesArray();
        assertArrayEquals(event(VirtioScsiSpec.VIRTIO_SCSI_T_TRANSPORT_RESET, new byte[] {1, 2, 0, 5, 0, 0, 0, 0},
                VirtioScsiSpec.VIRTIO_SCSI_EVT_RESET_REMOVED), java.util.Arrays.copyOf(w, 16));
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_BAD_TARGET, ini.cmd(2, 5, Cdb.testUnitReady()).run());
        assertThrows(java.util.NoSuchElementException.class, () -> model.removeLun(2, 5));
    }

    @Test
    void eventsInOrderOnePerBuffer() {
        FakeRequest a = ini.postEventBuffer(16);
        FakeRequest b = ini.postEventBuffer(16);
        FakeRequest c = ini.postEventBuffer(16);
        addLun(0, 1, 1 << 20, 512);
        model.removeLun(0, 1);
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_EVT_RESET_RESCAN, a.writableBytesArray()[12]);
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_EVT_RESET_REMOVED, b.writableBytesArray()[12]);
        assertTrue(a.sequence() < b.sequence());
        assertFalse(c.completed());
    }

    @Test
    void missedEventIsReportedWhenTheNextBufferArrives() {
        addLun(0, 1, 1 << 20, 512);                               // no buffer posted: lost
        assertTrue(model.eventsMissed());
        FakeRequest buf = ini.postEventBuffer(16);
        assertEquals(16, buf.awaitUsed());
        assertArrayEquals(event(VirtioScsiSpec.VIRTIO_SCSI_T_NO_EVENT | VirtioScsiSpec.VIRTIO_SCSI_T_EVENTS_MISSED, new byte[] {1, 0, 0, 0, 0, 0, 0, 0}, 0),
                buf.writableBytesArray());
        assertFalse(model.eventsMissed());
        FakeRequest next = ini.postEventBuffer(16);
        assertFalse(next.completed(), "held for the next event");
    }

    @Test
    void missedFlagRidesOnTheNextEventWhenOneIsPending() {
        addLun(3, 0, 1 << 20, 512);                               // lost
        FakeRequest buf = ini.postEventBuffer(16);                // reports the loss at once
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_T_EVENTS_MISSED, ByteBuffer.wrap(buf.writableBytesArray()).order(ByteOrder.LITTLE_ENDIAN).getInt(0));
        assertEquals(3, buf.writableBytesArray()[5], "names the target of the lost event");
    }

    @Test
    void noEventsWithoutNegotiatedHotplug() {
        model.featuresNegotiated(model.deviceFeatures() & ~(1L << VirtioScsiSpec.VIRTIO_SCSI_F_HOTPLUG));
        FakeRequest buf = ini.postEventBuffer(16);
        addLun(0, 1, 1 << 20, 512);
        model.removeLun(0, 1);
        assertFalse(buf.completed());
        assertFalse(model.eventsMissed());
    }

    @Test
    void lunsConfiguredBeforeNegotiationSendNothing() {
        VirtioScsiModel fresh = new VirtioScsiModel(ScsiModelOptions.defaults());
        try {
            fresh.addLun(0, 0, lun(1 << 20, 512).build());
            assertFalse(fresh.eventsMissed());
        } finally {
            fresh.close();
        }
    }

    @Test
    void stoppedEventQueueForgetsItsBuffers() {
        FakeRequest buf = ini.postEventBuffer(16);
        model.queueStopped(VirtioScsiSpec.EVENTQ);
        assertEquals(0, model.postedEventBuffers());
        addLun(0, 1, 1 << 20, 512);
        assertFalse(buf.completed(), "a forgotten buffer is never used");
        assertTrue(model.eventsMissed());
        model.reset();
        assertFalse(model.eventsMissed(), "reset forgets everything");
        assertEquals(0, model.negotiatedFeatures());
    }

    @Test
    void parameterChangeEventAndUnitAttention() {
        FakeRequest buf = ini.postEventBuffer(16);
        model.reportParameterChange(0, 0, SenseCode.CAPACITY_CHANGED);
        assertEquals(16, buf.awaitUsed());
        assertArrayEquals(event(VirtioScsiSpec.VIRTIO_SCSI_T_PARAM_CHANGE, new byte[] {1, 0, 0, 0, 0, 0, 0, 0}, 0x092A),
                buf.writableBytesArray(), "reason: ASC in bits 0..7, ASCQ in bits 8..15");
        assertCheckCondition(SenseCode.CAPACITY_CHANGED, ini.cmd(0, 0, Cdb.testUnitReady()).run());
        model.featuresNegotiated(model.deviceFeatures() & ~(1L << VirtioScsiSpec.VIRTIO_SCSI_F_CHANGE));
        FakeRequest quiet = ini.postEventBuffer(16);
        model.reportParameterChange(0, 0, SenseCode.CAPACITY_CHANGED);
        assertFalse(quiet.completed(), "no PARAM_CHANGE event without VIRTIO_SCSI_F_CHANGE");
        assertCheckCondition(SenseCode.CAPACITY_CHANGED, ini.cmd(0, 0, Cdb.testUnitReady()).run());
        assertThrows(IllegalArgumentException.class, () -> model.reportParameterChange(0, 0, SenseCode.LBA_OUT_OF_RANGE));
    }

    @Test
    void bufferTooSmallIsReturnedUnused() {
        FakeRequest small = ini.postEventBuffer(8);
        assertEquals(0, small.awaitUsed());
        assertEquals(0, model.postedEventBuffers());
    }

    @Test
    void unitAttentionOnLunChangeWhenAsked() {
        addLun(0, 1, 1 << 20, 512);
        model.faults().unitAttentionOnLunChange(true);
        addLun(0, 2, 1 << 20, 512);
        assertCheckCondition(SenseCode.REPORTED_LUNS_CHANGED, ini.cmd(0, 0, Cdb.testUnitReady()).run());
        assertGood(ini.cmd(0, 0, Cdb.testUnitReady()).run());
        assertCheckCondition(SenseCode.REPORTED_LUNS_CHANGED, ini.cmd(0, 1, Cdb.testUnitReady()).run());
        assertGood(ini.cmd(0, 2, Cdb.testUnitReady()).run());          // not on the new LUN itself
        model.removeLun(0, 2);
        assertCheckCondition(SenseCode.REPORTED_LUNS_CHANGED, ini.cmd(0, 1, Cdb.testUnitReady()).run());
    }

    @Test
    void removingALunRunsItsDelayedCommandsAgainstNoLun() {
        addLun(0, 1, 1 << 20, 512);
        addLun(4, 0, 1 << 20, 512);
        model.faults().delayNext(CommandFilter.any(), 2, Duration.ofMinutes(10));
        TestInitiator.Submitted onLun = ini.cmd(0, 1, Cdb.rw10(true, 0, 1)).in(512).submit();
        TestInitiator.Submitted onTarget = ini.cmd(4, 0, Cdb.testUnitReady()).submit();
        model.removeLun(0, 1);
        assertCheckCondition(SenseCode.LUN_NOT_SUPPORTED, onLun.await());
        model.removeLun(4, 0);
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_BAD_TARGET, onTarget.await());
        assertEquals(0, model.inflightCount());
    }

    @Test
    void addLunChecks() {
        ScsiLun l = addLun(0, 1, 1 << 20, 512);
        assertThrows(IllegalStateException.class, () -> addLun(0, 1, 1 << 20, 512));
        assertThrows(IllegalStateException.class, () -> model.addLun(0, 2, l), "a LUN attaches once");
        assertThrows(IllegalArgumentException.class, () -> addLun(8, 0, 1 << 20, 512), "max_target 7");
        assertThrows(IllegalArgumentException.class, () -> addLun(0, 512, 1 << 20, 512), "max_lun 511");
        assertSame(l, model.lun(0, 1));
        assertEquals(2, model.target(0).luns().size());
    }
}
