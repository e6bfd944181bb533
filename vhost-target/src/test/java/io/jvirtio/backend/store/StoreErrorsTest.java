package io.jvirtio.backend.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.UncheckedIOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** A store that cannot be made says why, before anything is allocated or half-opened. */
class StoreErrorsTest {
    @Test
    void aRamStoreBeyondTheOffHeapLimitIsRefusedBeforeAllocating() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new RamBlockStore(1L << 40, false));
        assertTrue(e.getMessage().contains("a RAM store of 1024.0 GiB does not fit in this JVM's off-heap memory limit of"), e.getMessage());
        assertTrue(e.getMessage().contains("-XX:MaxDirectMemorySize"), e.getMessage());
        assertNull(e.getCause(), "refused by the check, not by an OutOfMemoryError");
        try (RamBlockStore small = new RamBlockStore(1 << 20, false)) {
            assertEquals(1 << 20, small.sizeBytes());
        }
    }

    @Test
    void aMissingStoreFileSaysNoSuchFile(@TempDir Path dir) {
        Path missing = dir.resolve("nosuch.img");
        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> new FileBlockStore(missing, false));
        assertEquals("cannot open store file " + missing + ": no such file", e.getMessage());
    }
}
