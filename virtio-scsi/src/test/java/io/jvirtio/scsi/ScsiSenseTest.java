package io.jvirtio.scsi;

import java.util.OptionalInt;
import io.jvirtio.spec.scsi.VirtioScsiSpec;
import io.jvirtio.spec.scsi.ScsiSpec;

import io.jvirtio.core.DeviceException;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static io.jvirtio.spec.scsi.VirtioScsiSpec.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Codecs: sense data, config, LUN addresses, names. */
class ScsiSenseTest {
    @Test
    void fixedFormatSense() {
        byte[] b = new byte[18];
        b[0] = (byte) 0xF0;            // VALID, current
        b[2] = 0x03;
        MemorySegment.ofArray(b).set(ScsiSpec.BE_INT, 3, 0x00ABCDEF);
        b[7] = 10;
        b[12] = 0x11;
        b[13] = 0x00;
        ScsiSense s = ScsiSense.decode(b);
        assertEquals(ScsiSpec.KEY_MEDIUM_ERROR, s.key());
        assertEquals(0x11, s.asc());
        assertEquals(0xABCDEF, s.information());
        assertFalse(s.descriptorFormat());
        assertFalse(s.deferred());
        assertEquals("MEDIUM ERROR (0x3), ASC/ASCQ 0x11/0x00 UNRECOVERED READ ERROR, information 0xabcdef", s.describe());
    }

    @Test
    void shortAndDeferredAndUnknown() {
        ScsiSense s = ScsiSense.decode(new byte[] {0x71, 0, 0x06});
        assertEquals(ScsiSpec.KEY_UNIT_ATTENTION, s.key());
        assertEquals(0, s.asc(), "too short for the ASC");
        assertTrue(s.deferred());
        assertTrue(s.describe().endsWith("(deferred error)"));
        assertNull(ScsiSense.decode(new byte[] {0x7F, 0, 0}), "not an SPC format");
        assertNull(ScsiSense.decode(new byte[0]));
        assertEquals("ILLEGAL REQUEST (0x5), ASC/ASCQ 0x99/0x01", new ScsiSense(0x70, 5, 0x99, 1, -1, 18).describe());
    }

    @Test
    void descriptorFormatSense() {
        byte[] b = {0x73, 0x02, 0x04, 0x01, 0, 0, 0, 0};
        ScsiSense s = ScsiSense.decode(b);
        assertTrue(s.descriptorFormat());
        assertTrue(s.deferred());
        assertTrue(s.is(ScsiSpec.KEY_NOT_READY, 0x04, 0x01));
        assertEquals("NOT READY (0x2), ASC/ASCQ 0x04/0x01 LOGICAL UNIT IS IN PROCESS OF BECOMING READY (deferred error) [descriptor format]",
                s.describe());
        // a truncated descriptor list is not read past its end
        byte[] t = {0x72, 0x03, 0x11, 0x00, 0, 0, 0, 40, 0x00, 0x0A, (byte) 0x80, 0};
        assertEquals(-1, ScsiSense.decode(t).information());
    }

    @Test
    void namesOfEverySenseKeyAndCommonAscs() {
        for (int k = 0; k < 16; k++) {
            assertFalse(ScsiSense.keyName(k).isEmpty());
        }
        assertEquals("REPORTED LUNS DATA HAS CHANGED", ScsiSense.ascName(0x3F, 0x0E));
        assertEquals("CAPACITY DATA HAS CHANGED", ScsiSense.ascName(0x2A, 0x09));
        assertEquals("LOGICAL BLOCK ADDRESS OUT OF RANGE", ScsiSense.ascName(0x21, 0x00));
        assertEquals("TASK SET FULL", ScsiSpec.statusName(0x28));
        assertEquals("VIRTIO_SCSI_S_TRANSPORT_FAILURE", VirtioScsiSpec.responseName(6));
        assertEquals("VIRTIO_SCSI_T_TRANSPORT_RESET|VIRTIO_SCSI_T_EVENTS_MISSED", VirtioScsiSpec.eventName(0x80000001));
    }

    @Test
    void singleLevelLunAddresses() {
        assertEquals(5, EventQueue.decodeLun(0x00, 0x05));
        assertEquals(300, EventQueue.decodeLun(0x41, 0x2C));
        assertEquals(5, EventQueue.decodeLun(0x40, 0x05), "flat space addressing of a small LUN");
        assertEquals(-1, EventQueue.decodeLun(0x01, 0x05), "peripheral addressing on bus 1");
        assertEquals(-1, EventQueue.decodeLun(0x80, 0x05), "logical unit addressing");
        assertEquals("St2", VirtioScsiDisk.bdevName("S", 2, 0));
        assertEquals("St2l17", VirtioScsiDisk.bdevName("S", 2, 17));
    }

    @Test
    void configParsingAndDefaults() {
        MemorySegment cfg = MemorySegment.ofArray(new byte[CFG_SIZE]);
        cfg.set(LE_INT, CFG_NUM_QUEUES, 4);
        cfg.set(LE_INT, CFG_SEG_MAX, 126);
        cfg.set(LE_INT, CFG_MAX_SECTORS, 0xFFFF);
        cfg.set(LE_INT, CFG_EVENT_INFO_SIZE, 8);
        cfg.set(LE_INT, CFG_SENSE_SIZE, 96);
        cfg.set(LE_INT, CFG_CDB_SIZE, 32);
        cfg.set(LE_SHORT, CFG_MAX_TARGET, (short) 0xFFFF);
        cfg.set(LE_INT, CFG_MAX_LUN, 16383);
        VirtioScsiConfig c = VirtioScsiConfig.parse("d", cfg);
        assertEquals(4, c.numQueues());
        assertEquals(65535, c.maxTarget());
        assertEquals(256, c.targetCount(), "a LUN field addresses targets 0..255");
        assertEquals(16, c.eventBufferSize(), "at least a virtio_scsi_event");
        assertEquals(51, c.requestBytes());
        assertEquals(108, c.responseBytes());
        cfg.set(LE_INT, CFG_SENSE_SIZE, -1);
        DeviceException e = assertThrows(DeviceException.class, () -> VirtioScsiConfig.parse("d", cfg));
        assertTrue(e.getMessage().contains("d: virtio_scsi_config.sense_size = 4294967295"), e.getMessage());
        VirtioScsiConfig d = VirtioScsiConfig.defaults(OptionalInt.of(10));
        assertEquals(8, d.numQueues());
        assertEquals(64, d.targetCount());
        assertFalse(d.fromDevice());
    }

    @Test
    void optionsAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> VirtioScsiOptions.defaults().withQueueSize(100));
        assertThrows(IllegalArgumentException.class, () -> VirtioScsiOptions.defaults().withRequestQueues(0));
        assertThrows(IllegalArgumentException.class, () -> VirtioScsiOptions.defaults().withScanTargets(257));
        assertThrows(IllegalArgumentException.class, () -> VirtioScsiOptions.defaults().withCommandTimeout(java.time.Duration.ZERO));
        assertEquals(VirtioScsiOptions.SPDK_EVENT_POLL_PERIOD, VirtioScsiOptions.defaults().withEventThread().eventPollPeriod());
    }
}
