package io.jvirtio.core.vhostuser;

import io.jvirtio.spec.vhostuser.VhostUserRequest;

import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.sys.LinuxConstants;
import io.jvirtio.sys.Native;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link VhostUserFrontend#notifyQueue} is on the I/O path: no allocation per kick. */
class VhostUserNotifyAllocationTest {
    static final int KICKS = 200_000;

    @TempDir
    Path dir;

    @Test
    void notifyQueueDoesNotAllocate() throws Exception {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (ScriptedVhostUserBackend fake = new ScriptedVhostUserBackend(dir.resolve("vhost.sock"));
             MemoryDomain memory = MemoryDomain.create("alloc-test", LinuxConstants.HUGE_PAGE_2M, HugePagePolicy.NEVER)) {
            VhostUserFrontend b = VhostUserFrontend.connect(fake.socketPath, memory, VhostUserOptions.defaults());
            try {
                b.setupQueue(VhostUserFrontendTest.ring(memory, 0));
                b.setStatus(VhostUserFrontendTest.RUNNING);
                int kick = fake.last(VhostUserRequest.SET_VRING_KICK).fds()[0];
                for (int round = 0; round < 5; round++) { // warm up: let the JIT compile the path
                    kick(b);
                    Native.eventfdRead(kick);
                }
                long tid = Thread.currentThread().threadId();
                long before = threads.getThreadAllocatedBytes(tid);
                kick(b);
                long allocated = threads.getThreadAllocatedBytes(tid) - before;
                assertEquals(KICKS, Native.eventfdRead(kick), "every kick reached the back-end's eventfd");
                org.slf4j.LoggerFactory.getLogger(VhostUserNotifyAllocationTest.class).info("{} kicks allocated {} bytes", KICKS, allocated);
                assertTrue(allocated < 64 * 1024, allocated + " bytes allocated by " + KICKS + " kicks");
            } finally {
                b.destruct();
            }
        }
    }

    private static void kick(VhostUserFrontend b) {
        for (int i = 0; i < KICKS; i++) {
            b.notifyQueue(0);
        }
    }
}
