package io.jvirtio.backend.scsi;

import io.jvirtio.spec.scsi.VirtioScsiSpec;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class LunAddressingTest extends ScsiTestBase {
    @BeforeEach
    void setUp() {
        start(ScsiModelOptions.builder().maxTarget(255).maxLun(16383).build());
        addLun(0, 0, 1 << 20, 512);
        addLun(0, 1, 1 << 20, 512);
        addLun(0, 300, 1 << 20, 4096);
        addLun(3, 2, 1 << 20, 512);
        addLun(255, 16383, 1 << 20, 512);
    }

    private int blockSizeVia(int... lunBytes) {
        TestInitiator.Response r = ini.cmd(0, 0, Cdb.readCapacity10()).lunBytes(lunBytes).in(8).run();
        assertGood(r);
        return ((r.dataIn()[6] & 0xFF) << 8) | (r.dataIn()[7] & 0xFF);
    }

    @Test
    void peripheralAndFlatAddressingNameTheSameLun() {
        assertEquals(4096, blockSizeVia(1, 0, 0x41, 0x2C));         // flat space, LUN 300 (Linux)
        assertEquals(512, blockSizeVia(1, 0, 0x40, 0x01));          // flat space, LUN 1 (Linux)
        assertEquals(512, blockSizeVia(1, 0, 0x00, 0x01));          // peripheral, LUN 1
        assertEquals(512, blockSizeVia(1, 0, 0x00, 0x00));          // SPDK's LUN 0
        assertEquals(512, blockSizeVia(1, 255, 0x7F, 0xFF));        // target 255, LUN 16383
    }

    @Test
    void reportLunsListsEveryLunOfTheTarget() {
        TestInitiator.Response r = ini.cmd(0, 0, Cdb.reportLuns(0, 64)).in(64).run();
        assertGood(r);
        byte[] expected = {0, 0, 0, 24, 0, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 0, 0,
                0, 1, 0, 0, 0, 0, 0, 0,
                0x41, 0x2C, 0, 0, 0, 0, 0, 0};
        assertArrayEquals(expected, Arrays.copyOf(r.dataIn(), 32));
        assertEquals(64 - 32, r.residual());
        byte[] t255 = ini.cmd(255, 16383, Cdb.reportLuns(2, 16)).in(16).run().dataIn();
        assertArrayEquals(new byte[] {0, 0, 0, 8, 0, 0, 0, 0, 0x7F, (byte) 0xFF, 0, 0, 0, 0, 0, 0}, t255);
    }

    @Test
    void reportLunsWorksThroughAMissingLunAndTruncates() {
        TestInitiator.Response r = ini.cmd(3, 0, Cdb.reportLuns(0, 16)).in(16).run();
        assertGood(r);
        assertArrayEquals(new byte[] {0, 0, 0, 8, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0}, r.dataIn());
        TestInitiator.Response truncated = ini.cmd(0, 0, Cdb.reportLuns(0, 16)).in(16).run();
        assertGood(truncated);
        assertEquals(24, truncated.dataIn()[3], "the full list length");
    }

    @Test
    void reportLunsSelectAndAllocationChecks() {
        TestInitiator.Response wellKnown = ini.cmd(0, 0, Cdb.reportLuns(1, 16)).in(16).run();
        assertGood(wellKnown);
        assertArrayEquals(new byte[8], Arrays.copyOf(wellKnown.dataIn(), 8));
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_CDB, ini.cmd(0, 0, Cdb.reportLuns(3, 16)).in(16).run());
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_CDB, ini.cmd(0, 0, Cdb.reportLuns(0, 8)).in(8).run());
    }

    @Test
    void reportLunsClearsTheLunsChangedUnitAttention() {
        model.faults().unitAttention(0, 0, new SenseCode(6, 0x3F, 0x0E));
        assertGood(ini.cmd(0, 0, Cdb.reportLuns(0, 64)).in(64).run());
        assertGood(ini.cmd(0, 0, Cdb.testUnitReady()).run());
    }

    @Test
    void missingTargetIsBadTarget() {
        TestInitiator.Response r = ini.cmd(7, 0, Cdb.inquiry(false, 0, 96)).in(96).run();
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_BAD_TARGET, r);
        assertEquals(96, r.residual());
        assertEquals(12 + 96, r.used());
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_BAD_TARGET, ini.cmd(0, 0, Cdb.testUnitReady()).lunBytes(2, 0, 0, 0).run());
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_BAD_TARGET, ini.cmd(0, 0, Cdb.testUnitReady()).lunBytes(0xC1, 1, 0, 0).run());
    }

    @Test
    void missingLunOfAnExistingTarget() {
        assertCheckCondition(SenseCode.LUN_NOT_SUPPORTED, ini.cmd(0, 2, Cdb.testUnitReady()).run());
        assertCheckCondition(SenseCode.LUN_NOT_SUPPORTED, ini.cmd(0, 2, Cdb.rw10(true, 0, 1)).in(512).run());
        assertCheckCondition(SenseCode.LUN_NOT_SUPPORTED, ini.cmd(0, 2, Cdb.readCapacity10()).in(8).run());
        TestInitiator.Response sense = ini.cmd(0, 2, Cdb.requestSense(18)).in(18).run();
        assertGood(sense);
        assertArrayEquals(new byte[] {0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x25, 0}, Arrays.copyOf(sense.dataIn(), 14));
        byte[] inq = ini.cmd(0, 2, Cdb.inquiry(false, 0, 36)).in(36).run().dataIn();
        assertEquals(0x7F, inq[0] & 0xFF);
    }

    @Test
    void malformedSingleLevelLunsNameNoLun() {
        // logical unit addressing method, a bus number, a second level: no such LUN on an existing target
        assertCheckCondition(SenseCode.LUN_NOT_SUPPORTED, ini.cmd(0, 0, Cdb.testUnitReady()).lunBytes(1, 0, 0x80, 0).run());
        assertCheckCondition(SenseCode.LUN_NOT_SUPPORTED, ini.cmd(0, 0, Cdb.testUnitReady()).lunBytes(1, 0, 0x01, 0).run());
        assertCheckCondition(SenseCode.LUN_NOT_SUPPORTED,
                ini.cmd(0, 0, Cdb.testUnitReady()).lunBytes(1, 0, 0, 0, 0, 1, 0, 0).run());
        assertEquals(0x7F, ini.cmd(0, 0, Cdb.inquiry(false, 0, 36)).lunBytes(1, 0, 0xC0, 0).in(36).run().dataIn()[0]);
    }

    @Test
    void lunAddressCodec() {
        assertArrayEquals(new byte[] {1, 5, 0, 7, 0, 0, 0, 0}, LunAddress.encode(5, 7));
        assertArrayEquals(new byte[] {1, 5, 0x41, 0, 0, 0, 0, 0}, LunAddress.encode(5, 256));
        assertEquals(new LunAddress(5, 256), LunAddress.parse(LunAddress.encode(5, 256)));
        assertEquals(new LunAddress(-1, -1), LunAddress.parse(new byte[] {0, 5, 0, 0, 0, 0, 0, 0}));
    }
}
