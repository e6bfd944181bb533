package io.jvirtio.backend.scsi;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class ModeSenseTest extends ScsiTestBase {
    private static final byte[] CACHING_WCE = {0x08, 0x12, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    private static final byte[] CONTROL = {0x0A, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

    @BeforeEach
    void setUp() {
        start();
        addLun(0, 0, 1 << 20, 512);
        model.addLun(0, 1, lun(4 << 20, 4096).readOnly(true).writeCache(false).build());
    }

    @Test
    void modeSense6CachingWithBlockDescriptor() {
        TestInitiator.Response r = ini.cmd(0, 0, Cdb.modeSense6(false, 0, 0x08, 0, 255)).in(255).run();
        assertGood(r);
        byte[] d = Arrays.copyOf(r.dataIn(), 32);
        assertArrayEquals(new byte[] {31, 0, 0x10, 8}, Arrays.copyOf(d, 4), "length, medium, DPOFUA, descriptor length");
        assertArrayEquals(new byte[] {0, 0, 0x08, 0x00, 0, 0, 0x02, 0x00}, Arrays.copyOfRange(d, 4, 12),
                "2048 blocks of 512");
        assertArrayEquals(CACHING_WCE, Arrays.copyOfRange(d, 12, 32));
        assertEquals(255 - 32, r.residual());
    }

    @Test
    void modeSense6ControlWithoutDescriptor() {
        byte[] d = ini.cmd(0, 0, Cdb.modeSense6(true, 0, 0x0A, 0, 255)).in(255).run().dataIn();
        assertArrayEquals(new byte[] {15, 0, 0x10, 0}, Arrays.copyOf(d, 4));
        assertArrayEquals(CONTROL, Arrays.copyOfRange(d, 4, 16));
    }

    @Test
    void modeSense10AllPagesLongLba() {
        TestInitiator.Response r = ini.cmd(0, 1, Cdb.modeSense10(true, false, 0, 0x3F, 0, 512)).in(512).run();
        assertGood(r);
        byte[] d = r.dataIn();
        int total = 8 + 16 + 20 + 12;
        assertArrayEquals(new byte[] {0, (byte) (total - 2), 0, (byte) 0x90, 1, 0, 0, 16}, Arrays.copyOf(d, 8),
                "WP | DPOFUA, LONGLBA, 16-byte descriptor");
        assertArrayEquals(new byte[] {0, 0, 0, 0, 0, 0, 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0x10, 0x00},
                Arrays.copyOfRange(d, 8, 24), "1024 blocks of 4096");
        byte[] caching = Arrays.copyOfRange(d, 24, 44);
        assertEquals(0, caching[2], "no WCE");
        assertArrayEquals(CONTROL, Arrays.copyOfRange(d, 44, 56));
        assertEquals(512 - total, r.residual());
    }

    @Test
    void allPagesAndAllSubpages() {
        byte[] d = ini.cmd(0, 0, Cdb.modeSense10(false, true, 0, 0x3F, 0xFF, 64)).in(64).run().dataIn();
        assertEquals(8 + 20 + 12 - 2, d[1]);
        assertArrayEquals(CACHING_WCE, Arrays.copyOfRange(d, 8, 28));
    }

    @Test
    void changeableValuesAreZero() {
        byte[] d = ini.cmd(0, 0, Cdb.modeSense6(true, 1, 0x08, 0, 64)).in(64).run().dataIn();
        assertEquals(0, d[4 + 2], "WCE not changeable");
    }

    @Test
    void allocationLengthTruncates() {
        TestInitiator.Response r = ini.cmd(0, 0, Cdb.modeSense6(false, 0, 0x3F, 0, 4)).in(4).run();
        assertGood(r);
        assertEquals(4 + 8 + 32 - 1, r.dataIn()[0], "the full length is still reported");
        assertEquals(12 + 96 + 4, r.used());
    }

    @Test
    void savedValuesAndUnknownPagesAreRefused() {
        assertCheckCondition(SenseCode.SAVING_PARAMETERS_NOT_SUPPORTED,
                ini.cmd(0, 0, Cdb.modeSense6(false, 3, 0x08, 0, 64)).in(64).run());
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_CDB, ini.cmd(0, 0, Cdb.modeSense6(false, 0, 0x1C, 0, 64)).in(64).run());
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_CDB, ini.cmd(0, 0, Cdb.modeSense6(false, 0, 0x08, 1, 64)).in(64).run());
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_CDB, ini.cmd(0, 0, Cdb.modeSense10(false, false, 0, 0x0A, 1, 64)).in(64).run());
    }
}
