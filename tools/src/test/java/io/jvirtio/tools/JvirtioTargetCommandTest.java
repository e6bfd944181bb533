package io.jvirtio.tools;

import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.mem.HugePagePolicy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static io.jvirtio.tools.CommandResult.run;
import static org.junit.jupiter.api.Assertions.*;

/** {@code jvirtio target} refusing sockets it must not take over, run in-process as a user runs it (minus the JVM launch). */
class JvirtioTargetCommandTest {
    @Test
    void aSecondTargetOnALiveSocketFailsAndTheFirstKeepsServing(@TempDir Path d) throws Exception {
        Path live = d.resolve("t.sock");
        Path other = d.resolve("other.sock");
        try (VhostUserTarget first = VhostUserTarget.builder().name("first").socket(live).blk(new RamBlockStore(1 << 20, false), BlkModelOptions.defaults()).start()) {
            CommandResult r = run("target", "--socket", other.toString(), "--blk", "ram:1M", "--socket", live.toString(), "--blk", "ram:256M");
            assertEquals(1, r.status, r.out + r.err);
            assertTrue(r.err.contains("socket " + live + " is served by a live listener; refusing to take it over"), r.err);
            assertFalse(Files.exists(other), "the device of the same command that had bound is closed, its socket removed");
            assertTrue(Files.exists(live), "the first target's socket is still there");
            try (VirtioBlkDevice blk = VirtioBlkDevice.connectVhostUser("cli", live,
                    VirtioBlkOptions.defaults().withQueueSize(16).withMemoryBytes(2L << 20).withHugePages(HugePagePolicy.NEVER))) {
                assertEquals(1L << 20, blk.blockCount() * blk.blockSize(), "clients still get the first target's 1 MiB device, not 256M");
            }
        }
        assertFalse(Files.exists(live));
    }

    @Test
    void theSameSocketTwiceInOneCommandIsAUsageError(@TempDir Path d) {
        Path sock = d.resolve("same.sock");
        CommandResult r = run("target", "--socket", sock.toString(), "--blk", "ram:1M", "--socket", sock.toString(), "--blk", "ram:1M");
        assertEquals(2, r.status, r.out + r.err);
        assertTrue(r.err.contains("socket " + sock + " is given to two devices (blk0 and blk1)"), r.err);
        assertFalse(Files.exists(sock), "nothing was bound");
    }

    @Test
    void aPathThatIsNotASocketIsRefused(@TempDir Path d) throws Exception {
        Path file = d.resolve("disk.img");
        Files.writeString(file, "data");
        CommandResult r = run("target", "--socket", file.toString(), "--blk", "ram:1M");
        assertEquals(1, r.status, r.out + r.err);
        assertTrue(r.err.contains(file + " exists and is not a socket; refusing to replace it"), r.err);
        assertEquals("data", Files.readString(file));
    }
}
