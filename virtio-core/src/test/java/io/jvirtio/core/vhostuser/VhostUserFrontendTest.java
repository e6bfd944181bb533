package io.jvirtio.core.vhostuser;

import io.jvirtio.core.TransportUnsupportedException;
import java.util.OptionalInt;
import io.jvirtio.spec.vhostuser.VhostUserConfig;
import io.jvirtio.spec.vhostuser.VhostUserMemoryRegion;
import io.jvirtio.spec.vhostuser.VhostUserMemoryTable;
import io.jvirtio.spec.vhostuser.VhostUserProtocolFeature;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import io.jvirtio.spec.vhostuser.VhostUserSingleMemoryRegion;
import io.jvirtio.spec.vhostuser.VhostUserU64;
import io.jvirtio.spec.vhostuser.VhostUserVringAddr;
import io.jvirtio.spec.vhostuser.VhostUserVringFile;
import io.jvirtio.spec.vhostuser.VhostUserVringState;
import io.jvirtio.spec.vhostuser.VhostUserException;

import io.jvirtio.core.QueueSetup;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.VirtioStatus;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.mem.MemoryRegion;
import io.jvirtio.sys.LinuxConstants;
import io.jvirtio.sys.Native;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static io.jvirtio.spec.vhostuser.VhostUserRequest.ADD_MEM_REG;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.GET_FEATURES;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.GET_MAX_MEM_SLOTS;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.GET_PROTOCOL_FEATURES;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.GET_QUEUE_NUM;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.GET_STATUS;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.GET_VRING_BASE;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.SET_FEATURES;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.SET_MEM_TABLE;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.SET_OWNER;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.SET_PROTOCOL_FEATURES;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.SET_STATUS;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.SET_VRING_ADDR;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.SET_VRING_BASE;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.SET_VRING_CALL;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.SET_VRING_ENABLE;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.SET_VRING_KICK;
import static io.jvirtio.spec.vhostuser.VhostUserRequest.SET_VRING_NUM;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link VhostUserFrontend} against a scripted back-end: the happy path message by message. */
class VhostUserFrontendTest {
    static final int QUEUE_SIZE = 256;
    static final int RUNNING = VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER | VirtioStatus.FEATURES_OK | VirtioStatus.DRIVER_OK;

    @TempDir
    Path dir;
    ScriptedVhostUserBackend fake;
    MemoryDomain memory;
    VhostUserFrontend backend;

    @BeforeEach
    void setUp() throws Exception {
        fake = new ScriptedVhostUserBackend(dir.resolve("vhost.sock"));
        memory = MemoryDomain.create("fake-test", LinuxConstants.HUGE_PAGE_2M, HugePagePolicy.NEVER);
    }

    @AfterEach
    void tearDown() throws Exception {
        if (backend != null) {
            backend.destruct();
        }
        fake.close();
        memory.close();
        assertTrue(fake.errors.isEmpty(), () -> "fake back-end errors: " + fake.errors);
    }

    VhostUserFrontend connect() {
        backend = VhostUserFrontend.connect(fake.socketPath, memory, VhostUserOptions.defaults());
        return backend;
    }

    /** Ring memory for one queue of {@link #QUEUE_SIZE}: descriptors, avail, used, each on its own page. */
    static QueueSetup ring(MemoryDomain memory, int index) {
        MemorySegment m = memory.allocate(3 * 4096, 4096);
        return new QueueSetup(index, QUEUE_SIZE, m.address(), m.address() + 4096, m.address() + 8192, 0);
    }

    @Test
    void connectNegotiatesProtocolFeaturesAndStripsTheTransportBit() throws Exception {
        fake.protocolFeatures = ScriptedVhostUserBackend.DEFAULT_PROTOCOL_FEATURES | VhostUserProtocolFeature.bit(VhostUserProtocolFeature.LOG_SHMFD);
        connect();
        assertEquals(List.of(SET_OWNER, GET_FEATURES, GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM), fake.requests());
        assertEquals(ScriptedVhostUserBackend.DEFAULT_PROTOCOL_FEATURES,
                VhostUserU64.decode(fake.last(SET_PROTOCOL_FEATURES).body()).value(), "LOG_SHMFD not accepted");
        assertEquals(ScriptedVhostUserBackend.DEFAULT_PROTOCOL_FEATURES, backend.protocolFeatures());
        assertEquals(OptionalInt.of(2), backend.getMaxQueues());
        assertEquals(VhostUserOptions.DEFAULT_MAX_QUEUE_SIZE, backend.getQueueSize(0));
        long device = backend.getFeatures();
        assertFalse(VirtioFeatures.has(device, VirtioFeatures.VHOST_USER_F_PROTOCOL_FEATURES));
        assertTrue(VirtioFeatures.has(device, VirtioFeatures.VIRTIO_F_VERSION_1));
        assertEquals("user", backend.transportType());

        backend.setFeatures(VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1));
        ScriptedVhostUserBackend.Received set = fake.last(SET_FEATURES);
        assertTrue(set.needReply(), "REPLY_ACK in use: NEED_REPLY set");
        assertEquals(VirtioFeatures.bit(32) | VirtioFeatures.bit(30), VhostUserU64.decode(set.body()).value());

        String notOffered = assertThrows(IllegalArgumentException.class, () -> backend.setFeatures(VirtioFeatures.bit(40))).getMessage();
        assertTrue(notOffered.contains("0x10000000000"), notOffered);
    }

    @Test
    void backendWithoutProtocolFeatures() throws Exception {
        fake.features = VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1);
        connect();
        assertEquals(List.of(SET_OWNER, GET_FEATURES), fake.requests());
        assertEquals(OptionalInt.empty(), backend.getMaxQueues(), "without MQ the back-end does not say");
        assertEquals(0, backend.protocolFeatures());
        String cfg = assertThrows(TransportUnsupportedException.class,
                () -> backend.readDevConfig(0, Arena.ofAuto().allocate(8))).getMessage();
        assertTrue(cfg.contains("CONFIG") && cfg.contains("not negotiated") && cfg.contains(fake.socketPath.toString()), cfg);

        backend.setFeatures(VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1));
        backend.setupQueue(ring(memory, 0));
        backend.setStatus(RUNNING);
        fake.awaitMessages(3 + 2 + 5); // + table + barrier + 5 vring messages
        List<VhostUserRequest> start = fake.requests().subList(3, fake.requests().size());
        assertEquals(List.of(SET_MEM_TABLE, GET_FEATURES, SET_VRING_CALL, SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ADDR, SET_VRING_KICK),
                start, "no ENABLE without protocol features; a GET_FEATURES barrier after the table");
        for (ScriptedVhostUserBackend.Received r : fake.received) {
            assertFalse(r.needReply(), "no REPLY_ACK: " + r.header());
        }
    }

    @Test
    void driverOkStartsTheDeviceInSpdkOrder() throws Exception {
        connect();
        backend.setFeatures(VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1));
        QueueSetup q = ring(memory, 0);
        backend.setupQueue(q);
        int before = fake.received.size();
        backend.setStatus(VirtioStatus.ACKNOWLEDGE);
        backend.setStatus(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER | VirtioStatus.FEATURES_OK);
        assertEquals(before, fake.received.size(), "no STATUS: status stays local until DRIVER_OK");
        assertEquals(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER | VirtioStatus.FEATURES_OK, backend.getStatus());

        backend.setStatus(RUNNING);
        assertTrue(backend.isStarted());
        assertEquals(RUNNING, backend.getStatus());
        List<ScriptedVhostUserBackend.Received> start = fake.received.subList(before, fake.received.size());
        assertEquals(List.of(SET_MEM_TABLE, SET_VRING_CALL, SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ADDR, SET_VRING_KICK, SET_VRING_ENABLE),
                start.stream().map(ScriptedVhostUserBackend.Received::request).toList());
        for (ScriptedVhostUserBackend.Received r : start) {
            assertTrue(r.needReply(), "REPLY_ACK: " + r.header());
        }

        ScriptedVhostUserBackend.Received table = start.get(0);
        VhostUserMemoryTable t = VhostUserMemoryTable.decode(table.body());
        MemoryRegion region = memory.regions().get(0);
        assertEquals(List.of(new VhostUserMemoryRegion(region.address(), region.length(), region.address(), region.fdOffset())), t.regions());
        assertEquals(1, table.fds().length, "one fd per region");

        assertEquals(new VhostUserVringFile(0, false), VhostUserVringFile.decode(start.get(1).body()));
        assertEquals(1, start.get(1).fds().length, "call eventfd");
        assertEquals(new VhostUserVringState(0, QUEUE_SIZE), VhostUserVringState.decode(start.get(2).body()));
        assertEquals(new VhostUserVringState(0, 0), VhostUserVringState.decode(start.get(3).body()));
        assertEquals(new VhostUserVringAddr(0, 0, q.descAddress(), q.usedAddress(), q.availAddress(), 0),
                VhostUserVringAddr.decode(start.get(4).body()));
        assertEquals(1, start.get(5).fds().length, "kick eventfd");
        assertEquals(new VhostUserVringState(0, 1), VhostUserVringState.decode(start.get(6).body()));

        // kick: the back-end's copy of the kick fd sees it
        int kick = start.get(5).fds()[0];
        backend.notifyQueue(0);
        backend.notifyQueue(0);
        assertEquals(2, Native.eventfdRead(kick));
        // call: the front-end's call fd sees the back-end's signal
        int call = start.get(1).fds()[0];
        assertFalse(Native.pollIn(backend.callFd(0), 0));
        Native.eventfdWrite(call, 1);
        assertTrue(Native.pollIn(backend.callFd(0), 1000));

        fake.vringBase.put(0, 42);
        assertEquals(42, backend.deleteQueue(0), "GET_VRING_BASE answer");
        assertEquals(new VhostUserVringState(0, 0), VhostUserVringState.decode(fake.last(GET_VRING_BASE).body()));
        assertThrows(VhostUserException.class, () -> backend.notifyQueue(0));
        assertThrows(VhostUserException.class, () -> backend.callFd(0));
        assertEquals(-1, backend.deleteQueue(0), "already deleted");
    }

    @Test
    void queueSetUpWhileRunningStartsAtOnce() throws Exception {
        connect();
        backend.setStatus(RUNNING);
        int before = fake.received.size();
        backend.setupQueue(ring(memory, 1));
        assertEquals(List.of(SET_VRING_CALL, SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ADDR, SET_VRING_KICK, SET_VRING_ENABLE),
                fake.requests().subList(before, fake.received.size()));
        assertEquals(1, VhostUserVringState.decode(fake.last(SET_VRING_ENABLE).body()).index());
        String again = assertThrows(VhostUserException.class, () -> backend.setupQueue(ring(memory, 1))).getMessage();
        assertTrue(again.contains("queue 1 is running"), again);
    }

    @Test
    void resetStopsQueuesAndClosesEventfds() throws Exception {
        connect();
        backend.setupQueue(ring(memory, 0));
        backend.setupQueue(ring(memory, 1));
        backend.setStatus(RUNNING);
        fake.vringBase.put(1, 7);
        int callFd = backend.callFd(0);
        backend.setStatus(VirtioStatus.RESET);
        assertFalse(backend.isStarted());
        assertEquals(2, fake.requests().stream().filter(r -> r == GET_VRING_BASE).count());
        assertEquals(VirtioStatus.RESET, backend.getStatus());
        assertThrows(VhostUserException.class, () -> backend.callFd(0));
        assertThrows(VhostUserException.class, () -> backend.notifyQueue(1));
        assertThrows(RuntimeException.class, () -> Native.eventfdRead(callFd), "call eventfd closed");
        assertEquals(7, backend.deleteQueue(1), "base recorded by the reset");
        assertEquals(0, backend.deleteQueue(0));
        assertEquals(-1, backend.deleteQueue(0));

        int before = fake.received.size();
        backend.setStatus(VirtioStatus.RESET);
        assertEquals(before, fake.received.size(), "a reset of a stopped device sends nothing without STATUS");
        // and it can start again
        backend.setupQueue(ring(memory, 0));
        backend.setStatus(RUNNING);
        assertTrue(backend.isStarted());
    }

    @Test
    void statusProtocolFeatureSendsAndReadsTheStatus() throws Exception {
        fake.protocolFeatures |= VhostUserProtocolFeature.bit(VhostUserProtocolFeature.STATUS);
        connect();
        assertTrue(backend.hasProtocolFeature(VhostUserProtocolFeature.STATUS));
        backend.setStatus(VirtioStatus.ACKNOWLEDGE);
        assertEquals(VirtioStatus.ACKNOWLEDGE, VhostUserU64.decode(fake.last(SET_STATUS).body()).value());
        fake.status = 0x42;
        assertEquals(0x42, backend.getStatus(), "read from the back-end");
        assertEquals(GET_STATUS, fake.requests().getLast());
        backend.setupQueue(ring(memory, 0));
        backend.setStatus(RUNNING);
        List<VhostUserRequest> r = fake.requests();
        assertEquals(SET_STATUS, r.getLast(), "status after the queues are started");
        assertEquals(SET_VRING_ENABLE, r.get(r.size() - 2));
        backend.setStatus(VirtioStatus.RESET);
        assertEquals(List.of(GET_VRING_BASE, SET_STATUS), fake.requests().subList(r.size(), fake.received.size()));
        assertEquals(0, fake.status);
    }

    @Test
    void resetDeviceIsSentOnResetWhenNegotiated() throws Exception {
        fake.protocolFeatures |= VhostUserProtocolFeature.bit(VhostUserProtocolFeature.RESET_DEVICE);
        connect();
        backend.setStatus(VirtioStatus.RESET);
        assertFalse(fake.requests().contains(VhostUserRequest.RESET_DEVICE), "fresh device: nothing to reset");
        backend.setStatus(RUNNING);
        backend.setStatus(VirtioStatus.RESET);
        assertEquals(VhostUserRequest.RESET_DEVICE, fake.requests().getLast());
    }

    @Test
    void regionAddedWhileRunningResendsTheTable() throws Exception {
        fake.protocolFeatures &= ~VhostUserProtocolFeature.bit(VhostUserProtocolFeature.REPLY_ACK);
        connect();
        backend.setStatus(RUNNING);
        int before = fake.received.size();
        memory.allocate(3 * LinuxConstants.HUGE_PAGE_2M, 4096); // does not fit: a second region
        assertEquals(2, memory.regions().size());
        assertEquals(List.of(SET_MEM_TABLE, GET_FEATURES), fake.requests().subList(before, fake.received.size()),
                "shared, and a barrier, before allocate() returned");
        ScriptedVhostUserBackend.Received table = fake.last(SET_MEM_TABLE);
        assertEquals(2, VhostUserMemoryTable.decode(table.body()).regions().size());
        assertEquals(2, table.fds().length);
    }

    @Test
    void regionAddedWhileRunningUsesAddMemRegWithMemSlots() throws Exception {
        fake.protocolFeatures |= VhostUserProtocolFeature.bit(VhostUserProtocolFeature.CONFIGURE_MEM_SLOTS);
        connect();
        assertEquals(GET_MAX_MEM_SLOTS, fake.requests().getLast());
        assertEquals(32, backend.maxMemSlots());
        backend.setStatus(RUNNING);
        int before = fake.received.size();
        MemorySegment big = memory.allocate(3 * LinuxConstants.HUGE_PAGE_2M, 4096);
        assertEquals(List.of(ADD_MEM_REG), fake.requests().subList(before, fake.received.size()));
        ScriptedVhostUserBackend.Received add = fake.last(ADD_MEM_REG);
        assertTrue(add.needReply());
        assertEquals(1, add.fds().length);
        VhostUserMemoryRegion r = VhostUserSingleMemoryRegion.decode(add.body()).region();
        assertTrue(Long.compareUnsigned(r.userspaceAddr(), big.address()) <= 0
                && Long.compareUnsigned(big.address() + big.byteSize(), r.userspaceAddr() + r.memorySize()) <= 0);
        assertEquals(r.guestPhysAddr(), r.userspaceAddr());
    }

    @Test
    void readsAndWritesConfig() throws Exception {
        byte[] cfg = new byte[60];
        for (int i = 0; i < cfg.length; i++) {
            cfg[i] = (byte) (i + 1);
        }
        fake.config = cfg;
        connect();
        MemorySegment dst = Arena.ofAuto().allocate(4);
        backend.readDevConfig(20, dst);
        assertArrayEquals(new byte[] {21, 22, 23, 24}, dst.toArray(ValueLayout.JAVA_BYTE));
        VhostUserConfig asked = VhostUserConfig.decode(fake.last(VhostUserRequest.GET_CONFIG).body());
        assertEquals(0, asked.offset(), "always from offset 0: back-ends ignore the offset");
        assertEquals(24, asked.configSize());

        backend.writeDevConfig(32, MemorySegment.ofArray(new byte[] {1}));
        VhostUserConfig set = VhostUserConfig.decode(fake.last(VhostUserRequest.SET_CONFIG).body());
        assertEquals(new VhostUserConfig(32, VhostUserConfig.FLAG_WRITABLE, new byte[] {1}), set);

        assertThrows(IllegalArgumentException.class, () -> backend.readDevConfig(250, Arena.ofAuto().allocate(8)));
    }

    @Test
    void setupQueueValidatesAgainstTheMemoryDomain() throws Exception {
        connect();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment outside = arena.allocate(3 * 4096, 4096);
            String msg = assertThrows(IllegalArgumentException.class, () -> backend.setupQueue(
                    new QueueSetup(0, QUEUE_SIZE, outside.address(), outside.address() + 4096, outside.address() + 8192, 0))).getMessage();
            assertTrue(msg.contains("descriptor table") && msg.contains("not inside the memory domain"), msg);
        }
        QueueSetup ok = ring(memory, 0);
        assertThrows(IllegalArgumentException.class, () -> backend.setupQueue(
                new QueueSetup(0, 100, ok.descAddress(), ok.availAddress(), ok.usedAddress(), 0)));
        assertThrows(IllegalArgumentException.class, () -> backend.setupQueue(
                new QueueSetup(0, QUEUE_SIZE, ok.descAddress() + 1, ok.availAddress(), ok.usedAddress(), 0)));
        assertThrows(IllegalArgumentException.class, () -> backend.setupQueue(
                new QueueSetup(2, QUEUE_SIZE, ok.descAddress(), ok.availAddress(), ok.usedAddress(), 0)), "GET_QUEUE_NUM said 2");
        assertThrows(IllegalArgumentException.class, () -> backend.setupQueue(
                new QueueSetup(0, QUEUE_SIZE, ok.descAddress(), ok.availAddress(), ok.usedAddress(), 0x10000)));
    }

    @Test
    void jsonMapsAreSpdkShaped() throws Exception {
        connect();
        assertEquals(List.of("type", "socket"), List.copyOf(backend.dumpJsonInfo().keySet()));
        assertEquals(Map.of("type", "user", "socket", fake.socketPath.toString()), backend.dumpJsonInfo());
        assertEquals(List.of("trtype", "traddr"), List.copyOf(backend.writeJsonConfig().keySet()));
        assertEquals(Map.of("trtype", "user", "traddr", fake.socketPath.toString()), backend.writeJsonConfig());
        backend.writeJsonConfig().put("vq_count", 1); // mutable: the device layer adds to it
    }

    @Test
    void destructStopsQueuesClosesTheSocketAndIsIdempotent() throws Exception {
        connect();
        backend.setupQueue(ring(memory, 0));
        backend.setStatus(RUNNING);
        int call = backend.callFd(0);
        backend.destruct();
        backend.destruct();
        assertEquals(GET_VRING_BASE, fake.requests().getLast());
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!fake.sawEof() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertTrue(fake.sawEof(), "socket closed");
        assertThrows(RuntimeException.class, () -> Native.eventfdRead(call), "eventfds closed");
        assertThrows(VhostUserException.class, () -> backend.setStatus(VirtioStatus.ACKNOWLEDGE));
        memory.allocate(3 * LinuxConstants.HUGE_PAGE_2M, 4096); // listener removed: no message, no error
        backend = null;
    }

    @Test
    void connectRetriesUntilTheBackendListens() throws Exception {
        fake.close();
        Path later = dir.resolve("later.sock");
        Thread starter = Thread.ofPlatform().start(() -> {
            try {
                Thread.sleep(300);
                fake = new ScriptedVhostUserBackend(later);
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        VhostUserOptions opts = VhostUserOptions.builder().connectRetries(50, Duration.ofMillis(20)).build();
        backend = VhostUserFrontend.connect(later, memory, opts);
        starter.join();
        assertEquals(later, backend.socketPath());
    }
}
