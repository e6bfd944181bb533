package io.jvirtio.backend.vhost;

import io.jvirtio.spec.vhostuser.VhostUserInflight;

import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.core.mem.MemoryRegion;
import io.jvirtio.sys.LinuxConstants;
import io.jvirtio.sys.Native;
import io.jvirtio.spec.vhostuser.VhostUserConfig;
import io.jvirtio.spec.vhostuser.VhostUserHeader;
import io.jvirtio.spec.vhostuser.VhostUserMemoryRegion;
import io.jvirtio.spec.vhostuser.VhostUserMemoryTable;
import io.jvirtio.spec.vhostuser.VhostUserMessage;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import io.jvirtio.spec.vhostuser.VhostUserSingleMemoryRegion;
import io.jvirtio.spec.vhostuser.VhostUserU64;
import io.jvirtio.spec.vhostuser.VhostUserVringAddr;
import io.jvirtio.spec.vhostuser.VhostUserVringFile;
import io.jvirtio.spec.vhostuser.VhostUserVringState;
import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.backend.testing.DriverRing;
import io.jvirtio.backend.testing.FrontEndMemory;
import io.jvirtio.backend.testing.Handshake;
import io.jvirtio.backend.testing.ScriptedFrontEnd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Every kind of bad input a front-end can send: each closes that connection with a logged error
 * naming the message and the value, and the device serves the next connection as if nothing
 * happened.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BadInputTest {
    private static final int QUEUES = 2;
    private VhostUserTarget target;
    private FrontEndMemory mem;

    @BeforeAll
    void start(@TempDir Path d) {
        target = VhostUserTarget.builder().name("bad").socket(d.resolve("bad.sock"))
                .blk(new RamBlockStore(4 << 20, false), BlkModelOptions.builder().numQueues(QUEUES).build()).start();
        mem = new FrontEndMemory("bad-fe", 4 << 20);
    }

    @AfterAll
    void stop() {
        target.close();
        mem.close();
    }

    /** A bad-input script: runs on a fresh connection. */
    @FunctionalInterface
    interface Script {
        void run(ScriptedFrontEnd fe, FrontEndMemory mem) throws Exception;
    }

    record Case(String name, Script script, String expected) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static Case c(String name, String expected, Script s) {
        return new Case(name, s, expected);
    }

    private static byte[] u64(long v) {
        ByteBuffer b = VhostUserMessage.buffer(8);
        b.putLong(v);
        return b.array();
    }

    private static MemoryRegion region(FrontEndMemory m) {
        return m.domain().regions().getFirst();
    }

    /** Handshake, memory table and a running queue 0. */
    private static DriverRing running(ScriptedFrontEnd fe, FrontEndMemory m) throws Exception {
        Handshake.open(fe);
        m.share(fe);
        DriverRing ring = new DriverRing(m.domain(), 0, 64);
        ring.start(fe, 0, true);
        return ring;
    }

    static Stream<Case> cases() {
        int v = VhostUserHeader.VERSION;
        return Stream.of(
                c("unknown request code", "99 (unknown): unknown request", (fe, m) -> fe.sendRaw(99, v, new byte[0])),
                c("request code 0", "0 (unknown): unknown request", (fe, m) -> fe.sendRaw(0, v, new byte[8])),
                c("payload on GET_FEATURES", "VHOST_USER_GET_FEATURES: payload of 8 bytes, expected none",
                        (fe, m) -> fe.sendRaw(VhostUserRequest.GET_FEATURES.code(), v, new byte[8])),
                c("short SET_FEATURES", "VHOST_USER_SET_FEATURES: u64 payload is 4 bytes, expected 8",
                        (fe, m) -> fe.sendRaw(VhostUserRequest.SET_FEATURES.code(), v, new byte[4])),
                c("REPLY flag on a request", "REPLY flag on a request",
                        (fe, m) -> fe.sendRaw(VhostUserRequest.GET_FEATURES.code(), v | VhostUserHeader.FLAG_REPLY, new byte[0])),
                c("version 2", "carry version 2", (fe, m) -> fe.sendRaw(VhostUserRequest.GET_FEATURES.code(), 2, new byte[0])),
                c("unknown flag bit", "unknown bits 0x10", (fe, m) -> fe.sendRaw(VhostUserRequest.GET_FEATURES.code(), v | 0x10, new byte[0])),
                c("oversized payload", "payload size 8192 exceeds the maximum 4096",
                        (fe, m) -> fe.sendRaw(VhostUserRequest.SET_FEATURES.code(), v, new byte[8192])),
                c("fd on GET_FEATURES", "VHOST_USER_GET_FEATURES: carries 1 file descriptor(s), expected 0",
                        (fe, m) -> fe.sendRaw(VhostUserRequest.GET_FEATURES.code(), v, new byte[0], region(m).fd())),
                c("two fds on SET_VRING_CALL", "VHOST_USER_SET_VRING_CALL: carries 2 file descriptor(s), expected 1", (fe, m) -> {
                    Handshake.open(fe);
                    int fd = region(m).fd();
                    fe.send(VhostUserRequest.SET_VRING_CALL, new VhostUserVringFile(0, false), fd, fd);
                }),
                c("nine fds", "carries 9 file descriptors, at most 8", (fe, m) -> {
                    int fd = region(m).fd();
                    fe.send(VhostUserRequest.SET_MEM_TABLE, m.table(), fd, fd, fd, fd, fd, fd, fd, fd, fd);
                }),
                c("no fd with SET_VRING_KICK", "VHOST_USER_SET_VRING_KICK: carries 0 file descriptor(s), expected 1", (fe, m) -> {
                    Handshake.open(fe);
                    fe.send(VhostUserRequest.SET_VRING_KICK, new VhostUserVringFile(0, false));
                }),
                c("vring fd payload with high bits", "has bits beyond the index and NOFD flag",
                        (fe, m) -> fe.sendRaw(VhostUserRequest.SET_VRING_CALL.code(), v, u64(0x200))),
                c("queue index out of range (SET_VRING_NUM)", "VHOST_USER_SET_VRING_NUM: queue index 5 out of range 0..1", (fe, m) -> {
                    Handshake.open(fe);
                    fe.send(VhostUserRequest.SET_VRING_NUM, new VhostUserVringState(5, 64));
                }),
                c("queue index out of range (GET_VRING_BASE)", "VHOST_USER_GET_VRING_BASE: queue index 300 out of range",
                        (fe, m) -> fe.send(VhostUserRequest.GET_VRING_BASE, new VhostUserVringState(300, 0))),
                c("queue index out of range (SET_VRING_KICK)", "VHOST_USER_SET_VRING_KICK: queue index 200 out of range", (fe, m) -> {
                    int efd = Native.eventfd(0, LinuxConstants.EFD_CLOEXEC);
                    try {
                        fe.send(VhostUserRequest.SET_VRING_KICK, new VhostUserVringFile(200, false), efd);
                    } finally {
                        Native.close(efd);
                    }
                }),
                c("queue size not a power of two", "queue 0 size 100 is not a power of two in 1..1024",
                        (fe, m) -> fe.send(VhostUserRequest.SET_VRING_NUM, new VhostUserVringState(0, 100))),
                c("queue size too large", "queue 1 size 4096 is not a power of two in 1..1024",
                        (fe, m) -> fe.send(VhostUserRequest.SET_VRING_NUM, new VhostUserVringState(1, 4096))),
                c("base beyond 16 bits", "base 70000 is not a 16-bit ring index",
                        (fe, m) -> fe.send(VhostUserRequest.SET_VRING_BASE, new VhostUserVringState(0, 70000))),
                c("features not offered", "include 0x10000000000, which the device did not offer", (fe, m) -> {
                    long f = fe.callU64(VhostUserRequest.GET_FEATURES);
                    fe.send(VhostUserRequest.SET_FEATURES, new VhostUserU64(f | (1L << 40)));
                }),
                c("legacy driver", "lack VIRTIO_F_VERSION_1", (fe, m) -> {
                    long f = fe.callU64(VhostUserRequest.GET_FEATURES);
                    fe.send(VhostUserRequest.SET_FEATURES, new VhostUserU64(f & ~VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1)));
                }),
                c("protocol features not offered", "include 0x2 (LOG_SHMFD), not offered",
                        (fe, m) -> fe.send(VhostUserRequest.SET_PROTOCOL_FEATURES, new VhostUserU64(0x2))),
                c("GET_QUEUE_NUM without MQ", "VHOST_USER_GET_QUEUE_NUM: protocol feature MQ was not negotiated",
                        (fe, m) -> fe.send(VhostUserRequest.GET_QUEUE_NUM, null)),
                c("GET_CONFIG without CONFIG", "VHOST_USER_GET_CONFIG: protocol feature CONFIG was not negotiated (offered",
                        (fe, m) -> fe.send(VhostUserRequest.GET_CONFIG, VhostUserConfig.request(0, 8))),
                c("unimplemented request", "VHOST_USER_SET_LOG_BASE: not implemented by this back-end",
                        (fe, m) -> fe.sendRaw(VhostUserRequest.SET_LOG_BASE.code(), v, new byte[16])),
                c("memory table: nregions 9", "nregions 9, at most 8", (fe, m) -> {
                    ByteBuffer b = VhostUserMessage.buffer(8 + 9 * 32);
                    b.putInt(9);
                    fe.sendRaw(VhostUserRequest.SET_MEM_TABLE.code(), v, b.array());
                }),
                c("memory table: fewer fds than regions", "VHOST_USER_SET_MEM_TABLE: carries 1 file descriptor(s), expected 2", (fe, m) -> {
                    MemoryRegion r = region(m);
                    VhostUserMemoryRegion a = new VhostUserMemoryRegion(r.address(), 1 << 20, r.address(), 0);
                    VhostUserMemoryRegion b = new VhostUserMemoryRegion(r.address() + (1 << 20), 1 << 20, r.address() + (1 << 20), 1 << 20);
                    fe.send(VhostUserRequest.SET_MEM_TABLE, new VhostUserMemoryTable(List.of(a, b)), r.fd());
                }),
                c("memory table: overlapping regions", "SET_MEM_TABLE region 1: guest range [0x", (fe, m) -> {
                    MemoryRegion r = region(m);
                    VhostUserMemoryRegion a = new VhostUserMemoryRegion(r.address(), 2 << 20, r.address(), 0);
                    VhostUserMemoryRegion b = new VhostUserMemoryRegion(r.address() + (1 << 20), 2 << 20, r.address() + (8 << 20), 0);
                    fe.send(VhostUserRequest.SET_MEM_TABLE, new VhostUserMemoryTable(List.of(a, b)), r.fd(), r.fd());
                }),
                c("memory table: region of size 0", "has size 0", (fe, m) -> {
                    ByteBuffer b = VhostUserMessage.buffer(8 + 32);
                    b.putInt(1).putInt(0).putLong(0x100000).putLong(0).putLong(0x100000).putLong(0);
                    fe.sendRaw(VhostUserRequest.SET_MEM_TABLE.code(), v, b.array(), region(m).fd());
                }),
                c("ring address outside the table", "VHOST_USER_SET_VRING_ADDR: queue 0 descriptor table [0x1000, +1024) is not inside one region",
                        (fe, m) -> {
                            Handshake.open(fe);
                            m.share(fe);
                            fe.command(VhostUserRequest.SET_VRING_NUM, new VhostUserVringState(0, 64));
                            MemoryRegion r = region(m);
                            fe.send(VhostUserRequest.SET_VRING_ADDR, new VhostUserVringAddr(0, 0, 0x1000, r.address() + 8192, r.address() + 4096, 0));
                        }),
                c("ring straddling the end of the table", "used ring [0x", (fe, m) -> {
                    Handshake.open(fe);
                    m.share(fe);
                    fe.command(VhostUserRequest.SET_VRING_NUM, new VhostUserVringState(0, 64));
                    MemoryRegion r = region(m);
                    long end = r.address() + r.length();
                    fe.send(VhostUserRequest.SET_VRING_ADDR, new VhostUserVringAddr(0, 0, r.address(), end - 16, r.address() + 4096, 0));
                }),
                c("misaligned descriptor table", "descriptor table address 0x", (fe, m) -> {
                    Handshake.open(fe);
                    m.share(fe);
                    fe.command(VhostUserRequest.SET_VRING_NUM, new VhostUserVringState(0, 64));
                    MemoryRegion r = region(m);
                    fe.send(VhostUserRequest.SET_VRING_ADDR, new VhostUserVringAddr(0, 0, r.address() + 8, r.address() + 8192, r.address() + 4096, 0));
                }),
                c("ring logging asked", "VHOST_VRING_F_LOG", (fe, m) -> {
                    Handshake.open(fe);
                    MemoryRegion r = region(m);
                    fe.send(VhostUserRequest.SET_VRING_ADDR, new VhostUserVringAddr(0, 1, r.address(), r.address() + 8192, r.address() + 4096, 0));
                }),
                c("kick before SET_VRING_NUM", "queue 1 cannot start: SET_VRING_NUM missing", (fe, m) -> {
                    Handshake.open(fe);
                    int efd = Native.eventfd(0, LinuxConstants.EFD_CLOEXEC);
                    try {
                        fe.send(VhostUserRequest.SET_VRING_KICK, new VhostUserVringFile(1, false), efd);
                    } finally {
                        Native.close(efd);
                    }
                }),
                c("kick before SET_MEM_TABLE", "cannot start: no memory table", (fe, m) -> {
                    Handshake.open(fe);
                    MemoryRegion r = region(m);
                    fe.command(VhostUserRequest.SET_VRING_NUM, new VhostUserVringState(0, 64));
                    fe.command(VhostUserRequest.SET_VRING_ADDR, new VhostUserVringAddr(0, 0, r.address(), r.address() + 8192, r.address() + 4096, 0));
                    int efd = Native.eventfd(0, LinuxConstants.EFD_CLOEXEC);
                    try {
                        fe.send(VhostUserRequest.SET_VRING_KICK, new VhostUserVringFile(0, false), efd);
                    } finally {
                        Native.close(efd);
                    }
                }),
                c("SET_VRING_NUM on a running ring", "VHOST_USER_SET_VRING_NUM: queue 0 is running", (fe, m) -> {
                    try (DriverRing ring = running(fe, m)) {
                        fe.send(VhostUserRequest.SET_VRING_NUM, new VhostUserVringState(0, 32));
                        assertTrue(fe.awaitClosed(Duration.ofSeconds(5)));
                    }
                }),
                c("memory table no longer covering a running ring", "the new memory table does not cover a running ring: queue 0 descriptor table", (fe, m) -> {
                    try (DriverRing ring = running(fe, m)) {
                        fe.send(VhostUserRequest.SET_MEM_TABLE, new VhostUserMemoryTable(List.of()));
                        assertTrue(fe.awaitClosed(Duration.ofSeconds(5)));
                    }
                }),
                c("removing the region of a running ring", "VHOST_USER_REM_MEM_REG: the new memory table does not cover a running ring: queue 0",
                        (fe, m) -> {
                            try (DriverRing ring = running(fe, m)) {
                                fe.send(VhostUserRequest.REM_MEM_REG, new VhostUserSingleMemoryRegion(FrontEndMemory.wire(region(m))));
                                assertTrue(fe.awaitClosed(Duration.ofSeconds(5)));
                            }
                        }),
                c("removing an unknown region", "matches no mapped region", (fe, m) -> {
                    Handshake.open(fe);
                    m.share(fe);
                    fe.send(VhostUserRequest.REM_MEM_REG, new VhostUserSingleMemoryRegion(new VhostUserMemoryRegion(0x1000, 0x1000, 0x1000, 0)));
                }),
                c("adding an overlapping region", "VHOST_USER_ADD_MEM_REG: region{gpa=0x", (fe, m) -> {
                    Handshake.open(fe);
                    m.share(fe);
                    MemoryRegion r = region(m);
                    fe.send(VhostUserRequest.ADD_MEM_REG, new VhostUserSingleMemoryRegion(FrontEndMemory.wire(r)), r.fd());
                }),
                c("adding a region without its fd", "VHOST_USER_ADD_MEM_REG: carries 0 file descriptor(s), expected 1", (fe, m) -> {
                    Handshake.open(fe);
                    fe.send(VhostUserRequest.ADD_MEM_REG, new VhostUserSingleMemoryRegion(new VhostUserMemoryRegion(0x1000, 0x1000, 0x1000, 0)));
                }),
                c("enable value 2", "enable value 2, expected 0 or 1", (fe, m) -> {
                    Handshake.open(fe);
                    fe.send(VhostUserRequest.SET_VRING_ENABLE, new VhostUserVringState(0, 2));
                }),
                c("enable without protocol features acked", "VHOST_USER_F_PROTOCOL_FEATURES was not negotiated", (fe, m) -> {
                    Handshake.open(fe, -1L, ~VirtioFeatures.bit(VirtioFeatures.VHOST_USER_F_PROTOCOL_FEATURES));
                    fe.send(VhostUserRequest.SET_VRING_ENABLE, new VhostUserVringState(0, 1));
                }),
                c("inflight without fd", "VHOST_USER_SET_INFLIGHT_FD: carries 0 file descriptor(s), expected 1", (fe, m) -> {
                    Handshake.open(fe);
                    fe.send(VhostUserRequest.SET_INFLIGHT_FD, new VhostUserInflight(4096, 0, 1, 64));
                }),
                c("inflight for too many queues", "num_queues 9 out of range 1..2", (fe, m) -> {
                    Handshake.open(fe);
                    fe.send(VhostUserRequest.GET_INFLIGHT_FD, new VhostUserInflight(0, 0, 9, 64));
                }),
                c("status beyond a byte", "status 0x100 is not a status byte", (fe, m) -> {
                    Handshake.open(fe);
                    fe.send(VhostUserRequest.SET_STATUS, new VhostUserU64(0x100));
                }),
                c("message cut short", "in the middle of 2 (VHOST_USER_SET_FEATURES)'s 8-byte payload (4 of 8 bytes)", (fe, m) -> {
                    ByteBuffer b = VhostUserMessage.buffer(12 + 4);
                    new VhostUserHeader(VhostUserRequest.SET_FEATURES.code(), v, 8).encode(b);
                    fe.sendBytes(b.array()); // the header announces 8 bytes, 4 follow, then the front-end goes away
                    fe.close();
                }));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void badInputClosesTheConnectionAndTheDeviceServesTheNext(Case c) throws Exception {
        assertTrue(target.awaitIdle(0, Duration.ofSeconds(5)), "idle before the case");
        int errorsBefore = (int) target.errorCount();
        try (ScriptedFrontEnd fe = ScriptedFrontEnd.connect(target.socketPath())) {
            c.script().run(fe, mem);
            assertTrue(fe.awaitClosed(Duration.ofSeconds(5)), "the back-end closes the connection");
        } catch (java.net.SocketException e) {
            // the script's own close
        }
        assertTrue(target.awaitErrors(errorsBefore + 1, Duration.ofSeconds(5)), "an error is recorded");
        String err = target.lastError();
        assertTrue(err.contains(c.expected()), "error names the message and value: got <" + err + ">, expected to contain <" + c.expected() + ">");
        assertTrue(target.awaitIdle(0, Duration.ofSeconds(5)));
        // the device still serves: a new connection works
        try (ScriptedFrontEnd fe = ScriptedFrontEnd.connect(target.socketPath())) {
            Handshake.open(fe);
            assertEquals(QUEUES, fe.callU64(VhostUserRequest.GET_QUEUE_NUM));
        }
    }
}
