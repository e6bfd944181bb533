package io.jvirtio.backend.scsi;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class UnitCommandsTest extends ScsiTestBase {
    private CountingStore counting;

    @BeforeEach
    void setUp() {
        start();
        counting = new CountingStore(1 << 20);
        model.addLun(0, 0, ScsiLun.builder(counting).build());
    }

    @Test
    void testUnitReadyIsGood() {
        TestInitiator.Response r = ini.cmd(0, 0, Cdb.testUnitReady()).run();
        assertGood(r);
        assertEquals(0, r.residual());
        assertEquals(12 + 96, r.used());
    }

    @Test
    void notReadyUntilStartStopUnit() {
        model.faults().requireStartUnit(0, 0);
        assertCheckCondition(SenseCode.NOT_READY_INIT_REQUIRED, ini.cmd(0, 0, Cdb.testUnitReady()).run());
        assertCheckCondition(SenseCode.NOT_READY_INIT_REQUIRED, ini.cmd(0, 0, Cdb.rw10(true, 0, 1)).in(512).run());
        assertCheckCondition(SenseCode.NOT_READY_INIT_REQUIRED, ini.cmd(0, 0, Cdb.readCapacity10()).in(8).run());
        assertGood(ini.cmd(0, 0, Cdb.inquiry(false, 0, 36)).in(36).run());
        TestInitiator.Response sense = ini.cmd(0, 0, Cdb.requestSense(18)).in(18).run();
        assertGood(sense);
        assertArrayEquals(new byte[] {0x70, 0, 0x02, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x04, 0x02, 0, 0, 0, 0}, sense.dataIn());
        assertGood(ini.cmd(0, 0, Cdb.startStopUnit(true)).run());
        assertGood(ini.cmd(0, 0, Cdb.testUnitReady()).run());
    }

    @Test
    void stopUnitFlushesAndMakesTheLunNotReady() {
        assertGood(ini.cmd(0, 0, Cdb.startStopUnit(false)).run());
        assertEquals(1, counting.flushes.get());
        assertCheckCondition(SenseCode.NOT_READY_INIT_REQUIRED, ini.cmd(0, 0, Cdb.testUnitReady()).run());
        assertGood(ini.cmd(0, 0, Cdb.startStopUnit(true)).run());
        assertGood(ini.cmd(0, 0, Cdb.testUnitReady()).run());
    }

    @Test
    void lunBuiltStoppedNeedsStartStopUnit() {
        model.addLun(0, 1, lun(1 << 20, 512).startsStopped(true).build());
        assertCheckCondition(SenseCode.NOT_READY_INIT_REQUIRED, ini.cmd(0, 1, Cdb.testUnitReady()).run());
        assertGood(ini.cmd(0, 1, Cdb.startStopUnit(true)).run());
        assertGood(ini.cmd(0, 1, Cdb.testUnitReady()).run());
    }

    @Test
    void conditionsArmedBeforeTheDriverSurviveItsReset() {
        model.faults().requireStartUnit(0, 0);
        model.addLun(0, 1, lun(1 << 20, 512).build());
        model.faults().unitAttention(0, 1, SenseCode.POWER_ON_RESET);
        model.reset();
        model.featuresNegotiated(model.deviceFeatures());
        assertCheckCondition(SenseCode.NOT_READY_INIT_REQUIRED, ini.cmd(0, 0, Cdb.testUnitReady()).run());
        assertCheckCondition(SenseCode.POWER_ON_RESET, ini.cmd(0, 1, Cdb.testUnitReady()).run());
    }

    @Test
    void requestSenseReportsNoSenseAndRefusesDescriptorFormat() {
        TestInitiator.Response r = ini.cmd(0, 0, Cdb.requestSense(252)).in(252).run();
        assertGood(r);
        assertEquals(252 - 18, r.residual());
        assertArrayEquals(new byte[] {0x70, 0, 0, 0, 0, 0, 0, 10}, Arrays.copyOf(r.dataIn(), 8));
        byte[] desc = Cdb.requestSense(252);
        desc[1] = 1;
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_CDB, ini.cmd(0, 0, desc).in(252).run());
    }

    @Test
    void unitAttentionIsReportedOnceAndRequestSenseClearsIt() {
        model.faults().unitAttention(0, 0, SenseCode.CAPACITY_CHANGED);
        assertCheckCondition(SenseCode.CAPACITY_CHANGED, ini.cmd(0, 0, Cdb.rw10(true, 0, 1)).in(512).run());
        assertGood(ini.cmd(0, 0, Cdb.rw10(true, 0, 1)).in(512).run());
        model.faults().unitAttention(0, 0, SenseCode.POWER_ON_RESET);
        TestInitiator.Response sense = ini.cmd(0, 0, Cdb.requestSense(18)).in(18).run();
        assertGood(sense);
        assertEquals(0x06, sense.dataIn()[2]);
        assertEquals(0x29, sense.dataIn()[12]);
        assertGood(ini.cmd(0, 0, Cdb.testUnitReady()).run());
    }

    @Test
    void synchronizeCache() {
        assertGood(ini.cmd(0, 0, Cdb.sync10(0, 0)).run());
        assertGood(ini.cmd(0, 0, Cdb.sync16(100, 1948)).run());
        assertEquals(2, counting.flushes.get());
        assertCheckCondition(SenseCode.LBA_OUT_OF_RANGE, ini.cmd(0, 0, Cdb.sync16(100, 1949)).run());
        assertCheckCondition(SenseCode.LBA_OUT_OF_RANGE, ini.cmd(0, 0, Cdb.sync10(2048, 0)).run());
        assertEquals(2, counting.flushes.get());
    }

    @Test
    void unsupportedOpcodes() {
        for (int op : new int[] {0x04, 0x15, 0x2F, 0x4D, 0x7F, 0xA3, 0xC0, 0xFF}) {
            byte[] cdb = new byte[16];
            cdb[0] = (byte) op;
            assertCheckCondition(SenseCode.INVALID_OPCODE, ini.cmd(0, 0, cdb).run());
        }
    }

    @Test
    void unmapAndWriteSameOnAThickLunAreNotSupported() {
        model.addLun(0, 1, lun(1 << 20, 512).thinProvisioning(false).build());
        byte[] params = Cdb.unmapParams(new long[] {0, 1});
        assertCheckCondition(SenseCode.INVALID_OPCODE, ini.cmd(0, 1, Cdb.unmap(params.length)).out(params).run());
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_CDB,
                ini.cmd(0, 1, Cdb.writeSame16(0x08, 0, 1)).out(new byte[512]).run());
        assertGood(ini.cmd(0, 1, Cdb.writeSame16(0, 0, 1)).out(new byte[512]).run());
    }
}
