package io.jvirtio.backend.scsi;

import io.jvirtio.spec.VirtioFeatures;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class ConfigSpaceTest extends ScsiTestBase {
    private byte[] config(int offset, int len) {
        MemorySegment dst = MemorySegment.ofArray(new byte[len]);
        model.readConfig(offset, dst);
        return dst.toArray(ValueLayout.JAVA_BYTE);
    }

    private void write(int offset, byte... bytes) {
        model.writeConfig(offset, MemorySegment.ofArray(bytes));
    }

    private static byte[] le32(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }

    @Test
    void identityAndFeatures() {
        start(ScsiModelOptions.builder().requestQueues(3).build());
        assertEquals(8, model.deviceId());
        assertEquals(5, model.numQueues(), "controlq, eventq, 3 request queues");
        long f = model.deviceFeatures();
        assertEquals(VirtioFeatures.bit(32) | VirtioFeatures.bit(34) | VirtioFeatures.bit(28) | VirtioFeatures.bit(29) | VirtioFeatures.bit(1)
                | VirtioFeatures.bit(2), f, "VERSION_1, RING_PACKED, INDIRECT_DESC, EVENT_IDX, HOTPLUG, CHANGE; no INOUT, T10_PI");
        VirtioScsiModel bare = new VirtioScsiModel(ScsiModelOptions.builder().hotplug(false).paramChange(false).build());
        assertEquals(0, bare.deviceFeatures() & 0xF);
        bare.featuresNegotiated(-1L);
        assertEquals(bare.deviceFeatures(), bare.negotiatedFeatures(), "never more than offered");
        bare.close();
    }

    @Test
    void layoutByteForByte() {
        start(ScsiModelOptions.builder().requestQueues(2).segMax(62).maxSectors(0x1234).cmdPerLun(16).maxTarget(9)
                .maxLun(511).build());
        assertEquals(36, model.configSize());
        ByteBuffer b = ByteBuffer.allocate(36).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(2).putInt(62).putInt(0x1234).putInt(16).putInt(16).putInt(96).putInt(32)
                .putShort((short) 0).putShort((short) 9).putInt(511);
        assertArrayEquals(b.array(), config(0, 36));
        assertArrayEquals(new byte[] {9, 0}, config(30, 2), "a partial read");
    }

    @Test
    void senseAndCdbSizeAreWritableAndChangeTheLayout() {
        start();
        addLun(0, 0, 1 << 20, 512);
        write(20, le32(32));
        write(24, le32(16));
        assertArrayEquals(le32(32), config(20, 4));
        assertArrayEquals(le32(16), config(24, 4));
        ini.senseSize = 32;
        ini.cdbSize = 16;
        TestInitiator.Response r = ini.cmd(0, 0, Cdb.rw10(true, 2048, 1)).in(512).run();
        assertCheckCondition(SenseCode.LBA_OUT_OF_RANGE, r);
        assertEquals(12 + 32, r.used(), "sense area of 32 bytes");
        byte[] data = pattern(512, 4);
        assertGood(ini.cmd(0, 0, Cdb.rw16(false, 1, 1)).out(data).run());
        TestInitiator.Response rd = ini.cmd(0, 0, Cdb.rw16(true, 1, 1)).in(512).split().run();
        assertGood(rd);
        assertEquals(12 + 32 + 512, rd.used());
        assertArrayEquals(data, rd.dataIn(), "data-in right after the 32-byte sense area");
        model.reset();
        assertArrayEquals(le32(96), config(20, 4), "reset restores 96");
        assertArrayEquals(le32(32), config(24, 4), "reset restores 32");
    }

    @Test
    void cdbLongerThanTheNegotiatedCdbSizeIsRefused() {
        start();
        addLun(0, 0, 1 << 20, 512);
        write(24, le32(10));
        ini.cdbSize = 10;
        assertGood(ini.cmd(0, 0, Cdb.rw10(true, 0, 1)).in(512).run());
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_CDB, ini.cmd(0, 0, Cdb.readCapacity16(32)).in(32).run());
        write(24, le32(6));
        ini.cdbSize = 6;
        assertCheckCondition(SenseCode.INVALID_FIELD_IN_CDB, ini.cmd(0, 0, Cdb.rw10(true, 0, 1)).in(512).run());
        assertGood(ini.cmd(0, 0, Cdb.testUnitReady()).run());
    }

    @Test
    void senseSizeSmallerThanTheSenseDataTruncatesIt() {
        start();
        addLun(0, 0, 1 << 20, 512);
        write(20, le32(8));
        ini.senseSize = 8;
        TestInitiator.Response r = ini.cmd(0, 0, Cdb.readCapacity10()).lunBytes(1, 0, 0, 5).in(8).run();
        assertEquals(2, r.status());
        assertEquals(8, r.senseLen());
        assertEquals(0x70, r.sense()[0]);
        assertEquals(0x05, r.sense()[2]);
    }

    @Test
    void readOnlyFieldsAndAbsurdSizesAreIgnored() {
        start();
        byte[] before = config(0, 36);
        write(0, le32(99));
        write(30, (byte) 1, (byte) 1);
        write(20, le32(-1));
        assertArrayEquals(before, config(0, 36));
        write(22, (byte) 1);                                          // one byte of sense_size: 96 + 65536
        assertArrayEquals(before, config(0, 36), "65632 is refused");
        write(21, (byte) 1);                                          // 96 + 256
        assertArrayEquals(le32(352), config(20, 4));
    }
}
