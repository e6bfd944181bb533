package io.jvirtio.core.mem;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads the kernel's 2 MiB hugepage pool from {@code /proc/meminfo}. */
public final class HugePages {
    private static final Path MEMINFO = Path.of("/proc/meminfo");

    private HugePages() {
    }

    /** @return free 2 MiB hugepages ({@code HugePages_Free}), 0 if unknown */
    public static long free() {
        return meminfo("HugePages_Free:");
    }

    /** @return reserved-by-mappings hugepages not yet faulted ({@code HugePages_Rsvd}), 0 if unknown */
    public static long reserved() {
        return meminfo("HugePages_Rsvd:");
    }

    private static long meminfo(String key) {
        try {
            for (String line : Files.readAllLines(MEMINFO)) {
                if (line.startsWith(key)) {
                    return Long.parseLong(line.substring(key.length()).trim().split("\\s+")[0]);
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }
}
