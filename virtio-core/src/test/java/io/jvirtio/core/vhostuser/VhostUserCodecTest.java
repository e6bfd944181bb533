package io.jvirtio.core.vhostuser;

import io.jvirtio.spec.vhostuser.VhostUserConfig;
import io.jvirtio.spec.vhostuser.VhostUserHeader;
import io.jvirtio.spec.vhostuser.VhostUserMemoryRegion;
import io.jvirtio.spec.vhostuser.VhostUserMemoryTable;
import io.jvirtio.spec.vhostuser.VhostUserMessage;
import io.jvirtio.spec.vhostuser.VhostUserPayload;
import io.jvirtio.spec.vhostuser.VhostUserProtocolFeature;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import io.jvirtio.spec.vhostuser.VhostUserSingleMemoryRegion;
import io.jvirtio.spec.vhostuser.VhostUserU64;
import io.jvirtio.spec.vhostuser.VhostUserVringAddr;
import io.jvirtio.spec.vhostuser.VhostUserVringFile;
import io.jvirtio.spec.vhostuser.VhostUserVringState;
import io.jvirtio.spec.vhostuser.VhostUserException;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Encode → bytes → decode for every payload, and rejection of bad sizes, flags and request codes. */
class VhostUserCodecTest {

    private static <T extends VhostUserPayload> T roundTrip(T payload, Function<ByteBuffer, T> decoder) {
        ByteBuffer buf = VhostUserMessage.buffer(payload.size());
        payload.encode(buf);
        assertFalse(buf.hasRemaining(), "encode wrote exactly size() bytes");
        buf.flip();
        T back = decoder.apply(buf);
        assertEquals(payload, back);
        return back;
    }

    private static ByteBuffer bytes(int n) {
        return VhostUserMessage.buffer(n);
    }

    private static String rejected(Function<ByteBuffer, ?> decoder, ByteBuffer buf) {
        return assertThrows(VhostUserException.class, () -> decoder.apply(buf)).getMessage();
    }

    @Test
    void requestCodesMatchTheSpec() {
        assertEquals(1, VhostUserRequest.GET_FEATURES.code());
        assertEquals(5, VhostUserRequest.SET_MEM_TABLE.code());
        assertEquals(12, VhostUserRequest.SET_VRING_KICK.code());
        assertEquals(18, VhostUserRequest.SET_VRING_ENABLE.code());
        assertEquals(24, VhostUserRequest.GET_CONFIG.code());
        assertEquals(34, VhostUserRequest.RESET_DEVICE.code());
        assertEquals(37, VhostUserRequest.ADD_MEM_REG.code());
        assertEquals(40, VhostUserRequest.GET_STATUS.code());
        for (VhostUserRequest r : VhostUserRequest.values()) {
            assertSame(r, VhostUserRequest.fromCode(r.code()));
        }
        assertNull(VhostUserRequest.fromCode(0));
        assertNull(VhostUserRequest.fromCode(41));
        assertNull(VhostUserRequest.fromCode(-1));
        assertEquals("99 (unknown)", VhostUserRequest.describe(99));
        assertEquals("2 (VHOST_USER_SET_FEATURES)", VhostUserRequest.describe(2));
        assertTrue(VhostUserRequest.GET_VRING_BASE.hasReply());
        assertFalse(VhostUserRequest.SET_VRING_BASE.hasReply());
    }

    @Test
    void protocolFeatureBitsMatchTheSpec() {
        assertEquals(0, VhostUserProtocolFeature.MQ);
        assertEquals(3, VhostUserProtocolFeature.REPLY_ACK);
        assertEquals(9, VhostUserProtocolFeature.CONFIG);
        assertEquals(12, VhostUserProtocolFeature.INFLIGHT_SHMFD);
        assertEquals(13, VhostUserProtocolFeature.RESET_DEVICE);
        assertEquals(15, VhostUserProtocolFeature.CONFIGURE_MEM_SLOTS);
        assertEquals(16, VhostUserProtocolFeature.STATUS);
        assertEquals("0x209 (MQ|REPLY_ACK|CONFIG)", VhostUserProtocolFeature.describe(0x209));
    }

    @Test
    void headerRoundTripsInNativeOrder() {
        VhostUserHeader h = VhostUserHeader.forRequest(VhostUserRequest.SET_VRING_NUM, true, 8);
        assertEquals(VhostUserHeader.VERSION | VhostUserHeader.FLAG_NEED_REPLY, h.flags());
        ByteBuffer buf = bytes(VhostUserHeader.SIZE);
        h.encode(buf);
        byte[] raw = buf.array();
        ByteBuffer le = ByteBuffer.wrap(raw).order(ByteOrder.nativeOrder());
        assertEquals(8, le.getInt(VhostUserHeader.REQUEST_OFFSET));
        assertEquals(0x9, le.getInt(VhostUserHeader.FLAGS_OFFSET));
        assertEquals(8, le.getInt(VhostUserHeader.SIZE_OFFSET));
        VhostUserHeader back = VhostUserHeader.decode(VhostUserMessage.wrap(raw));
        assertEquals(h, back);
        assertTrue(back.needsReply());
        assertFalse(back.isReply());
        assertThrows(VhostUserException.class, () -> VhostUserHeader.decode(bytes(11)));
    }

    @Test
    void replyHeaderValidation() {
        VhostUserRequest sent = VhostUserRequest.GET_FEATURES;
        int ok = VhostUserHeader.VERSION | VhostUserHeader.FLAG_REPLY;
        new VhostUserHeader(1, ok, 8).checkReplyTo(sent);
        new VhostUserHeader(1, ok | VhostUserHeader.FLAG_NEED_REPLY, 8).checkReplyTo(sent); // libvhost-user may echo it

        String wrongCode = assertThrows(VhostUserException.class, () -> new VhostUserHeader(2, ok, 8).checkReplyTo(sent)).getMessage();
        assertTrue(wrongCode.contains("VHOST_USER_GET_FEATURES") && wrongCode.contains("2 (VHOST_USER_SET_FEATURES)"), wrongCode);

        String noReply = assertThrows(VhostUserException.class, () -> new VhostUserHeader(1, 0x1, 8).checkReplyTo(sent)).getMessage();
        assertTrue(noReply.contains("flags 0x1") && noReply.contains("REPLY"), noReply);

        String version = assertThrows(VhostUserException.class, () -> new VhostUserHeader(1, 0x6, 8).checkReplyTo(sent)).getMessage();
        assertTrue(version.contains("version 2"), version);

        String unknown = assertThrows(VhostUserException.class, () -> new VhostUserHeader(1, ok | 0x100, 8).checkReplyTo(sent)).getMessage();
        assertTrue(unknown.contains("0x105") && unknown.contains("unknown bits 0x100"), unknown);

        String huge = assertThrows(VhostUserException.class, () -> new VhostUserHeader(1, ok, -1).checkReplyTo(sent)).getMessage();
        assertTrue(huge.contains("4294967295"), huge);
    }

    @Test
    void u64() {
        roundTrip(new VhostUserU64(0x175007e46L), VhostUserU64::decode);
        roundTrip(new VhostUserU64(-1L), VhostUserU64::decode);
        assertTrue(rejected(VhostUserU64::decode, bytes(4)).contains("4 bytes, expected 8"));
        assertTrue(rejected(VhostUserU64::decode, bytes(16)).contains("16 bytes, expected 8"));
    }

    @Test
    void vringState() {
        roundTrip(new VhostUserVringState(3, 256), VhostUserVringState::decode);
        roundTrip(new VhostUserVringState(0, 0xffff), VhostUserVringState::decode);
        assertTrue(rejected(VhostUserVringState::decode, bytes(4)).contains("vring state"));
        assertEquals("vring state{index=1, num=4294967295}", new VhostUserVringState(1, -1).toString());
    }

    @Test
    void vringFile() {
        VhostUserVringFile f = roundTrip(new VhostUserVringFile(7, false), VhostUserVringFile::decode);
        assertEquals(7, f.toU64());
        assertEquals(0x1ff, new VhostUserVringFile(255, true).toU64());
        roundTrip(new VhostUserVringFile(255, true), VhostUserVringFile::decode);
        assertThrows(IllegalArgumentException.class, () -> new VhostUserVringFile(256, false));
        assertThrows(IllegalArgumentException.class, () -> new VhostUserVringFile(-1, false));
        ByteBuffer bad = bytes(8).putLong(0, 0x200);
        assertTrue(rejected(VhostUserVringFile::decode, bad).contains("0x200"));
        assertThrows(VhostUserException.class, () -> VhostUserVringFile.decode(bytes(7)));
    }

    @Test
    void vringAddr() {
        VhostUserVringAddr a = new VhostUserVringAddr(1, 0, 0x7f0000200000L, 0x7f0000202000L, 0x7f0000201000L, 0);
        roundTrip(a, VhostUserVringAddr::decode);
        ByteBuffer buf = bytes(VhostUserVringAddr.SIZE);
        a.encode(buf);
        assertEquals(0x7f0000200000L, buf.getLong(VhostUserVringAddr.DESC_OFFSET));
        assertEquals(0x7f0000202000L, buf.getLong(VhostUserVringAddr.USED_OFFSET));
        assertEquals(0x7f0000201000L, buf.getLong(VhostUserVringAddr.AVAIL_OFFSET));
        assertThrows(IllegalArgumentException.class, () -> new VhostUserVringAddr(0, 0, 0, 1, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new VhostUserVringAddr(0, 2, 1, 1, 1, 0));
        assertThrows(VhostUserException.class, () -> VhostUserVringAddr.decode(bytes(32)));
        assertTrue(rejected(VhostUserVringAddr::decode, bytes(40)).contains("null ring address"));
    }

    @Test
    void memoryRegionAndTable() {
        VhostUserMemoryRegion r = new VhostUserMemoryRegion(0x7f0000000000L, 0x200000, 0x7f0000000000L, 0);
        roundTrip(r, VhostUserMemoryRegion::decode);
        assertThrows(IllegalArgumentException.class, () -> new VhostUserMemoryRegion(0, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new VhostUserMemoryRegion(-4096, 8192, 0, 0));

        List<VhostUserMemoryRegion> regions = new ArrayList<>();
        for (int i = 0; i < VhostUserMemoryTable.MAX_REGIONS; i++) {
            regions.add(new VhostUserMemoryRegion(0x200000L * (i + 1), 0x200000, 0x200000L * (i + 1), i * 4096L));
        }
        VhostUserMemoryTable full = roundTrip(new VhostUserMemoryTable(regions), VhostUserMemoryTable::decode);
        assertEquals(8 + 8 * 32, full.size());
        VhostUserMemoryTable one = roundTrip(new VhostUserMemoryTable(List.of(r)), VhostUserMemoryTable::decode);
        assertEquals(40, one.size());
        roundTrip(new VhostUserMemoryTable(List.of()), VhostUserMemoryTable::decode);

        regions.add(r);
        String tooMany = assertThrows(IllegalArgumentException.class, () -> new VhostUserMemoryTable(regions)).getMessage();
        assertTrue(tooMany.contains("9 regions") && tooMany.contains("VHOST_MEMORY_BASELINE_NREGIONS"), tooMany);

        ByteBuffer nine = bytes(8 + 9 * 32).putInt(0, 9);
        assertTrue(rejected(VhostUserMemoryTable::decode, nine).contains("nregions 9"));
        ByteBuffer shortTable = bytes(8 + 32).putInt(0, 2);
        assertTrue(rejected(VhostUserMemoryTable::decode, shortTable).contains("32 bytes, expected 64"));
        assertThrows(VhostUserException.class, () -> VhostUserMemoryTable.decode(bytes(4)));
    }

    @Test
    void singleMemoryRegion() {
        VhostUserSingleMemoryRegion s = roundTrip(
                new VhostUserSingleMemoryRegion(new VhostUserMemoryRegion(0x400000, 0x200000, 0x400000, 0)),
                VhostUserSingleMemoryRegion::decode);
        assertEquals(40, s.size());
        ByteBuffer buf = bytes(40);
        s.encode(buf);
        assertEquals(0, buf.getLong(VhostUserSingleMemoryRegion.PADDING_OFFSET));
        assertEquals(0x400000, buf.getLong(VhostUserSingleMemoryRegion.REGION_OFFSET));
        assertThrows(VhostUserException.class, () -> VhostUserSingleMemoryRegion.decode(bytes(32)));
    }

    @Test
    void config() {
        byte[] cfg = new byte[60];
        cfg[0] = 0x20;
        VhostUserConfig c = roundTrip(new VhostUserConfig(0, VhostUserConfig.FLAG_WRITABLE, cfg), VhostUserConfig::decode);
        assertEquals(72, c.size());
        assertArrayEquals(cfg, c.payload());
        roundTrip(new VhostUserConfig(32, VhostUserConfig.FLAG_WRITABLE, new byte[] {1}), VhostUserConfig::decode);
        roundTrip(new VhostUserConfig(0, VhostUserConfig.FLAG_MIGRATION, new byte[256]), VhostUserConfig::decode);
        roundTrip(VhostUserConfig.request(0, 0), VhostUserConfig::decode);

        assertThrows(IllegalArgumentException.class, () -> new VhostUserConfig(0, 0, new byte[257]));
        assertThrows(IllegalArgumentException.class, () -> new VhostUserConfig(200, 0, new byte[57]));
        assertThrows(IllegalArgumentException.class, () -> new VhostUserConfig(-1, 0, new byte[1]));
        assertThrows(IllegalArgumentException.class, () -> new VhostUserConfig(0, 2, new byte[1]));

        ByteBuffer sizeMismatch = bytes(12 + 8).putInt(4, 16);
        assertTrue(rejected(VhostUserConfig::decode, sizeMismatch).contains("8 bytes, expected 16"));
        ByteBuffer oversized = bytes(12).putInt(4, 1000);
        assertTrue(rejected(VhostUserConfig::decode, oversized).contains("1000"));
        assertThrows(VhostUserException.class, () -> VhostUserConfig.decode(bytes(8)));
    }

    @Test
    void messageIsHeaderThenPayload() {
        VhostUserMessage m = VhostUserMessage.request(VhostUserRequest.SET_FEATURES, false, new VhostUserU64(0x1_0000_0000L));
        byte[] raw = m.toBytes();
        assertEquals(20, raw.length);
        ByteBuffer b = VhostUserMessage.wrap(raw);
        assertEquals(new VhostUserHeader(2, 1, 8), VhostUserHeader.decode(b));
        assertEquals(0x1_0000_0000L, b.getLong());
        assertEquals(12, VhostUserMessage.request(VhostUserRequest.SET_OWNER, false, null).toBytes().length);
        assertThrows(IllegalArgumentException.class,
                () -> new VhostUserMessage(new VhostUserHeader(2, 1, 4), new VhostUserU64(1)));
    }
}
