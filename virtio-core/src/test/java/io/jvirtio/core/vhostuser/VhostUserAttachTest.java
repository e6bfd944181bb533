package io.jvirtio.core.vhostuser;

import io.jvirtio.core.VirtioBackendOps;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.spec.vhostuser.VhostUserException;
import io.jvirtio.sys.LinuxConstants;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link VhostUserAttach}: the driver gets a connected transport and its own memory; on any failure nothing stays open. */
@Timeout(30)
class VhostUserAttachTest {
    static final long MEMORY = LinuxConstants.HUGE_PAGE_2M;

    @TempDir
    Path dir;
    ScriptedVhostUserBackend fake;

    @BeforeEach
    void setUp() throws Exception {
        fake = new ScriptedVhostUserBackend(dir.resolve("vhost.sock"));
    }

    @AfterEach
    void tearDown() throws Exception {
        fake.close();
    }

    private <T> T attach(io.jvirtio.core.DriverAttach<T> driver) {
        return VhostUserAttach.attach("attach-test", fake.socketPath, MEMORY, HugePagePolicy.NEVER, VhostUserOptions.defaults(), driver);
    }

    @Test
    void theDriverOwnsAConnectedTransportAndItsMemory() {
        AtomicReference<MemoryDomain> memory = new AtomicReference<>();
        VirtioBackendOps ops = attach((transport, mem) -> {
            memory.set(mem);
            return transport;
        });
        try {
            assertEquals(VhostUserFrontend.TRANSPORT_TYPE, ops.transportType());
            assertFalse(memory.get().regions().isEmpty(), "the domain's first region");
            assertEquals("attach-test", memory.get().name());
        } finally {
            ops.destruct();
            memory.get().close();
        }
    }

    @Test
    void aFailingDriverLeavesNothingOpen() {
        AtomicReference<VirtioBackendOps> ops = new AtomicReference<>();
        AtomicReference<MemoryDomain> memory = new AtomicReference<>();
        IllegalStateException failure = new IllegalStateException("driver says no");
        assertSame(failure, assertThrows(IllegalStateException.class, () -> attach((transport, mem) -> {
            ops.set(transport);
            memory.set(mem);
            throw failure;
        })));
        String closed = assertThrows(VhostUserException.class, () -> ops.get().getStatus()).getMessage();
        assertTrue(closed.contains("closed"), closed);
        assertTrue(memory.get().regions().isEmpty(), "the domain was closed");
        assertThrows(VirtioException.class, () -> memory.get().allocate(4096, 4096));
    }

    @Test
    void aConnectFailureIsTheCallersErrorAndTheDriverNeverRuns() {
        Path missing = dir.resolve("nobody.sock");
        RuntimeException mapped = assertThrows(IllegalArgumentException.class, () -> VhostUserAttach.attach("x", missing, MEMORY,
                HugePagePolicy.NEVER, VhostUserOptions.defaults(), e -> new IllegalArgumentException("mapped: " + e.getMessage(), e),
                (transport, mem) -> {
                    throw new AssertionError("driver ran");
                }));
        assertTrue(mapped.getMessage().startsWith("mapped: cannot connect to vhost-user socket " + missing), mapped.getMessage());
        assertTrue(mapped.getCause() instanceof VhostUserException);
        // unmapped: the transport's own error
        assertThrows(VhostUserException.class, () -> VhostUserAttach.attach("x", missing, MEMORY, HugePagePolicy.NEVER,
                VhostUserOptions.defaults(), (transport, mem) -> transport));
    }
}
