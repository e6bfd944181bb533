package io.jvirtio.backend.scsi;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class CapacityTest extends ScsiTestBase {
    @BeforeEach
    void setUp() {
        start();
    }

    @Test
    void readCapacity10() {
        addLun(0, 0, 1 << 20, 512);
        TestInitiator.Response r = ini.cmd(0, 0, Cdb.readCapacity10()).in(8).run();
        assertGood(r);
        assertArrayEquals(new byte[] {0, 0, 0x07, (byte) 0xFF, 0, 0, 0x02, 0x00}, r.dataIn(), "last LBA 2047, 512 bytes");
        addLun(0, 1, 4 << 20, 4096);
        assertArrayEquals(new byte[] {0, 0, 0x03, (byte) 0xFF, 0, 0, 0x10, 0x00},
                ini.cmd(0, 1, Cdb.readCapacity10()).in(8).run().dataIn(), "last LBA 1023, 4096 bytes");
    }

    @Test
    void readCapacity10SaturatesAboveTwoTebibytesOfBlocks() {
        long blocks = (1L << 32) + 10;                            // last LBA 0x1_0000_0009
        model.addLun(0, 0, ScsiLun.builder(new CountingStore(blocks * 512)).build());
        assertArrayEquals(new byte[] {-1, -1, -1, -1, 0, 0, 0x02, 0x00},
                ini.cmd(0, 0, Cdb.readCapacity10()).in(8).run().dataIn());
        byte[] rc16 = ini.cmd(0, 0, Cdb.readCapacity16(32)).in(32).run().dataIn();
        assertEquals(blocks - 1, ByteBuffer.wrap(rc16).getLong(0));
        // exactly 2^32 blocks: the last LBA 0xFFFFFFFF does not fit either
        model.addLun(0, 1, ScsiLun.builder(new CountingStore((1L << 32) * 512)).build());
        assertArrayEquals(new byte[] {-1, -1, -1, -1, 0, 0, 0x02, 0x00},
                ini.cmd(0, 1, Cdb.readCapacity10()).in(8).run().dataIn());
        model.addLun(0, 2, ScsiLun.builder(new CountingStore(((1L << 32) - 1) * 512)).build());
        assertArrayEquals(new byte[] {-1, -1, -1, -2, 0, 0, 0x02, 0x00},
                ini.cmd(0, 2, Cdb.readCapacity10()).in(8).run().dataIn());
    }

    @Test
    void readCapacity16Layout() {
        model.addLun(0, 0, lun(1 << 20, 512).physicalBlockSize(4096).build());
        TestInitiator.Response r = ini.cmd(0, 0, Cdb.readCapacity16(32)).in(32).run();
        assertGood(r);
        byte[] d = r.dataIn();
        byte[] expected = new byte[32];
        expected[6] = 0x07;
        expected[7] = (byte) 0xFF;                                // last LBA 2047
        expected[10] = 0x02;                                      // 512
        expected[13] = 3;                                         // 8 logical blocks per physical block
        expected[14] = (byte) 0xC0;                               // LBPME, LBPRZ
        assertArrayEquals(expected, d);
        model.addLun(0, 1, lun(1 << 20, 4096).thinProvisioning(false).build());
        byte[] thick = ini.cmd(0, 1, Cdb.readCapacity16(32)).in(32).run().dataIn();
        assertEquals(0, thick[13]);
        assertEquals(0, thick[14], "no LBPME without thin provisioning");
    }

    @Test
    void readCapacity16HonoursTheAllocationLength() {
        addLun(0, 0, 1 << 20, 512);
        TestInitiator.Response r = ini.cmd(0, 0, Cdb.readCapacity16(12)).in(32).run();
        assertGood(r);
        assertEquals(32 - 12, r.residual());
        assertEquals(12 + 96 + 12, r.used());
        assertArrayEquals(new byte[20], Arrays.copyOfRange(r.dataIn(), 12, 32));
    }

    @Test
    void otherServiceActionsAreInvalid() {
        addLun(0, 0, 1 << 20, 512);
        byte[] cdb = Cdb.readCapacity16(32);
        cdb[1] = 0x12;                                            // GET LBA STATUS
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_CDB, ini.cmd(0, 0, cdb).in(32).run());
    }
}
