package io.jvirtio.backend;

import io.jvirtio.bdev.SyncIo;
import io.jvirtio.blk.VirtioBlkChannel;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.spec.vhostuser.VhostUserProtocolFeature;
import io.jvirtio.backend.blk.VirtioBlkModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static io.jvirtio.core.testing.BlkPatterns.*;
import static org.junit.jupiter.api.Assertions.*;

/** The command line: device pairs, spec parsing with transport options, the device-type registry. */
class TargetMainTest {
    @Test
    void pairsOfSocketAndDevice() throws Exception {
        List<TargetMain.Entry> e = TargetMain.parse(new String[] {"--socket", "/tmp/a.sock", "--blk", "ram:64M,bs=4096,ro,queues=2",
            "--connect", "/tmp/b.sock", "--name", "second", "--blk", "file:/tmp/x.img"});
        assertEquals(2, e.size());
        assertEquals(new TargetMain.Entry("blk0", Path.of("/tmp/a.sock"), false, "blk", "ram:64M,bs=4096,ro,queues=2"), e.get(0));
        assertEquals(new TargetMain.Entry("second", Path.of("/tmp/b.sock"), true, "blk", "file:/tmp/x.img"), e.get(1));
        // the device first, then its socket
        assertEquals(1, TargetMain.parse(new String[] {"--blk", "ram:1M", "--socket", "/tmp/c.sock"}).size());
    }

    @Test
    void usageErrorsNameTheArgument() {
        assertTrue(assertThrows(TargetMain.UsageException.class, () -> TargetMain.parse(new String[] {"--blk", "ram:1M"}))
                .getMessage().contains("--blk ram:1M has no --socket or --connect"));
        assertTrue(assertThrows(TargetMain.UsageException.class, () -> TargetMain.parse(new String[] {"--socket", "/tmp/a"}))
                .getMessage().contains("has no device"));
        assertTrue(assertThrows(TargetMain.UsageException.class, () -> TargetMain.parse(new String[] {"--nvme", "x"}))
                .getMessage().contains("unknown option --nvme (device types: --blk"));
        assertTrue(assertThrows(TargetMain.UsageException.class, () -> TargetMain.parse(new String[] {"--socket"}))
                .getMessage().contains("--socket needs a value"));
    }

    @Test
    void theSameSocketTwiceIsRefusedNamingThePath() throws Exception {
        TargetMain.UsageException e = assertThrows(TargetMain.UsageException.class, () -> TargetMain.parse(new String[] {
            "--socket", "/tmp/dup.sock", "--blk", "ram:1M", "--socket", "/tmp/x/../dup.sock", "--name", "other", "--blk", "ram:1M"}));
        assertTrue(e.getMessage().contains("socket /tmp/x/../dup.sock is given to two devices (blk0 and other)"), e.getMessage());
        // a relative path and its absolute form are the same socket
        String abs = Path.of("rel.sock").toAbsolutePath().toString();
        e = assertThrows(TargetMain.UsageException.class, () -> TargetMain.parse(new String[] {
            "--socket", "rel.sock", "--blk", "ram:1M", "--connect", abs, "--blk", "ram:1M"}));
        assertTrue(e.getMessage().contains("socket " + abs + " is given to two devices"), e.getMessage());
        // two devices connecting to one front-end's socket create and remove nothing there
        assertEquals(2, TargetMain.parse(new String[] {"--connect", "/tmp/fe.sock", "--blk", "ram:1M", "--connect", "/tmp/fe.sock",
            "--blk", "ram:1M"}).size());
    }

    @Test
    void runRefusesALiveSocketClosesWhatStartedAndReturnsOne(@TempDir Path d) throws Exception {
        Path live = d.resolve("live.sock");
        Path first = d.resolve("first.sock");
        try (VhostUserTarget owner = VhostUserTarget.builder().name("owner").socket(live)
                .blk(new io.jvirtio.backend.store.RamBlockStore(1 << 20, false), io.jvirtio.backend.blk.BlkModelOptions.defaults()).start()) {
            java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
            int status = TargetMain.run(new String[] {"--socket", first.toString(), "--blk", "ram:1M", "--socket", live.toString(), "--blk", "ram:1M"},
                    System.out, new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
            String msg = err.toString(java.nio.charset.StandardCharsets.UTF_8);
            assertEquals(1, status, msg);
            assertTrue(msg.contains("socket " + live + " is served by a live listener; refusing to take it over"), msg);
            assertFalse(Files.exists(first), "the device that had started is closed and its socket removed");
            assertTrue(Files.exists(live), "the live listener keeps its socket");
            assertTrue(owner.awaitIdle(1, java.time.Duration.ofSeconds(5)), "the probe reached the owner and went away");
        }
    }

    @Test
    void specOptionsAreCheckedAndTransportOptionsTakenOut(@TempDir Path d) {
        TargetMain.Entry e = new TargetMain.Entry("m", d.resolve("m.sock"), false, "blk",
                "ram:2M,bs=4096,queues=3,discard=off,qsize=256,poll,proto-off=REPLY_ACK+STATUS,features-off=EVENT_IDX");
        VhostUserTarget.Builder b = TargetMain.builder(e);
        try (VhostUserTarget t = b.start()) {
            VirtioBlkModel m = (VirtioBlkModel) t.model();
            assertEquals(4096, m.options().blockSize());
            assertEquals(3, m.numQueues());
            assertFalse(m.options().discard());
            assertEquals(2L << 20, m.capacityBytes());
            assertEquals(256, t.options().maxQueueSize());
            assertTrue(t.options().polling());
            assertFalse(t.options().offers(VhostUserProtocolFeature.REPLY_ACK));
            assertFalse(t.options().offers(VhostUserProtocolFeature.STATUS));
            assertTrue(t.options().offers(VhostUserProtocolFeature.MQ));
        }
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> TargetMain.builder(new TargetMain.Entry("x", d.resolve("x.sock"), false, "blk", "ram:1M,colour=blue")));
        assertTrue(bad.getMessage().contains("unknown option(s) colour"), bad.getMessage());
        bad = assertThrows(IllegalArgumentException.class,
                () -> TargetMain.builder(new TargetMain.Entry("x", d.resolve("x.sock"), false, "blk", "ram:1M,bs=1000")));
        assertTrue(bad.getMessage().contains("1000"), bad.getMessage());
        bad = assertThrows(IllegalArgumentException.class,
                () -> TargetMain.builder(new TargetMain.Entry("x", d.resolve("x.sock"), false, "blk", "ram:1M,proto-off=WARP")));
        assertTrue(bad.getMessage().contains("unknown protocol feature WARP"), bad.getMessage());
        bad = assertThrows(IllegalArgumentException.class,
                () -> TargetMain.builder(new TargetMain.Entry("x", d.resolve("x.sock"), false, "blk", "tape:1M")));
        assertTrue(bad.getMessage().contains("unknown storage tape"), bad.getMessage());
    }

    @Test
    void aFileDeviceCreatedFromTheCommandLineServesAnInitiator(@TempDir Path d) throws Exception {
        Path img = d.resolve("disk.img");
        List<TargetMain.Entry> entries = TargetMain.parse(new String[] {"--socket", d.resolve("f.sock").toString(), "--name", "filedisk",
            "--blk", "file:" + img + ",size=4M,queues=2"});
        try (TargetServer server = new TargetServer()) {
            VhostUserTarget t = server.start(TargetMain.builder(entries.getFirst()));
            assertEquals(4L << 20, Files.size(img));
            try (VirtioBlkDevice blk = VirtioBlkDevice.connectVhostUser("cli", t.socketPath(),
                    VirtioBlkOptions.defaults().withRequestQueues(2).withQueueSize(32).withMemoryBytes(4L << 20).withHugePages(HugePagePolicy.NEVER));
                 VirtioBlkChannel ch = blk.openChannel()) {
                MemorySegment w = blk.allocateBuffer(8192, 4096);
                fill(w, 21);
                SyncIo io = new SyncIo(ch);
                io.write(w, 65536);
                io.flush();
                assertSameBytes(bytes(w), readFile(img, 65536, 8192), "image file");
            }
        }
        assertFalse(Files.exists(d.resolve("f.sock")), "the socket file is removed on close");
    }

    @Test
    void deviceSpecParsing() {
        DeviceSpec s = DeviceSpec.parse("ram:64M,bs=4096,ro,discard=off");
        assertEquals("ram", s.kind());
        assertEquals("64M", s.argument());
        assertEquals(4096, s.takeInt("bs", 512));
        assertTrue(s.takeFlag("ro", false));
        assertFalse(s.takeFlag("discard", true));
        assertFalse(s.takeFlag("absent", false));
        s.checkAllTaken("blk");
        assertEquals(64L << 20, DeviceSpec.parseSize("64M", "t"));
        assertEquals(1L << 30, DeviceSpec.parseSize("1GiB", "t"));
        assertEquals(4096, DeviceSpec.parseSize("4096", "t"));
        assertThrows(IllegalArgumentException.class, () -> DeviceSpec.parseSize("-1M", "t"));
        assertThrows(IllegalArgumentException.class, () -> DeviceSpec.parse("ram:1M,ro,ro"));
        DeviceSpec r = DeviceSpec.parse("scsi:2x3,poll,lun-size=1G");
        assertTrue(r.takeFlag("poll", false));
        assertEquals("scsi:2x3,lun-size=1G", r.remainingText(), "what is left goes to the device type");
    }

    @Test
    void registeredDeviceTypesAreFound() {
        DeviceType t = new DeviceType() {
            @Override
            public String name() {
                return "testdev";
            }

            @Override
            public String usage() {
                return "nothing";
            }

            @Override
            public Opened open(String deviceName, String spec) {
                throw new UnsupportedOperationException();
            }
        };
        DeviceTypes.register(t);
        assertSame(t, DeviceTypes.find("testdev"));
        assertNotNull(DeviceTypes.find("blk"));
    }

    @Test
    void cpuMaskMakesTheQueuesPollPinnedAndSpecsMayChooseOtherwise(@TempDir Path d) throws Exception {
        List<TargetMain.Entry> es = TargetMain.parse(new String[] {"-m", "0x1", "--socket", d.resolve("a.sock").toString(), "--blk", "ram:1M",
                "--socket", d.resolve("b.sock").toString(), "--blk", "ram:1M,kick,poll-idle=250us",
                "--socket", d.resolve("c.sock").toString(), "--blk", "ram:1M,poll-idle=never"});
        try (VhostUserTarget a = TargetMain.builder(es.get(0)).start();
             VhostUserTarget b = TargetMain.builder(es.get(1)).start();
             VhostUserTarget c = TargetMain.builder(es.get(2)).start()) {
            assertEquals(io.jvirtio.backend.ring.QueueMode.POLL, a.options().queueMode());
            assertEquals(List.of(0), a.options().cpus());
            assertEquals(TargetOptions.DEFAULT_POLL_IDLE, a.options().pollIdle());
            assertEquals(io.jvirtio.backend.ring.QueueMode.KICK, b.options().queueMode(), "kick in the spec wins over the mask's default");
            assertEquals(java.time.Duration.ofNanos(250_000), b.options().pollIdle());
            assertEquals(java.time.Duration.ZERO, c.options().pollIdle(), "never: spin for ever");
        }
        TargetMain.Entry plain = TargetMain.parse(new String[] {"--socket", d.resolve("p.sock").toString(), "--blk", "ram:1M"}).get(0);
        try (VhostUserTarget p = TargetMain.builder(plain).start()) {
            if (System.getProperty(TargetOptions.QUEUE_MODE_PROPERTY) == null) {
                assertEquals(io.jvirtio.backend.ring.QueueMode.KICK, p.options().queueMode(), "no mask, no flag: kick (interrupt mode) as before");
            }
            assertTrue(p.options().cpus().isEmpty());
        }
        TargetMain.UsageException badMask = assertThrows(TargetMain.UsageException.class,
                () -> TargetMain.parse(new String[] {"-m", "0xZ", "--socket", d.resolve("x.sock").toString(), "--blk", "ram:1M"}));
        assertTrue(badMask.getMessage().contains("CPU mask 0xZ"), badMask.getMessage());
        IllegalArgumentException both = assertThrows(IllegalArgumentException.class,
                () -> TargetMain.builder(new TargetMain.Entry("x", d.resolve("x.sock"), false, "blk", "ram:1M,poll,kick")));
        assertTrue(both.getMessage().contains("poll and kick"), both.getMessage());
        IllegalArgumentException idle = assertThrows(IllegalArgumentException.class,
                () -> TargetMain.builder(new TargetMain.Entry("x", d.resolve("x.sock"), false, "blk", "ram:1M,poll-idle=soon")));
        assertTrue(idle.getMessage().contains("poll-idle=soon"), idle.getMessage());
        IllegalArgumentException cpu = assertThrows(IllegalArgumentException.class,
                () -> TargetMain.builder(new TargetMain.Entry("x", d.resolve("x.sock"), false, "blk", "ram:1M,cpumask=[1000]")));
        assertTrue(cpu.getMessage().contains("1000"), cpu.getMessage());
        assertEquals(List.of(0, 2, 3), CpuMask.parse("[0,2-3]"));
        assertEquals(List.of(0, 2, 3), CpuMask.parse("0xd"));
        assertEquals("0xd", CpuMask.toHex(List.of(0, 2, 3)));
    }
}
