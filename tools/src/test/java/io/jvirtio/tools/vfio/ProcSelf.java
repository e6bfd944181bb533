package io.jvirtio.tools.vfio;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;
import java.util.OptionalLong;

/**
 * {@link ProcessView} of a VFIO process from {@code /proc/self}: {@code VmLck} of
 * {@code status} (VFIO type1 pins every DMA-mapped page and counts it in {@code locked_vm}), the
 * {@code anon_inode:[vfio-device]} lines of {@code maps} (BAR mmaps of a device fd), the
 * {@code /memfd:NAME} lines of {@code maps}. Guest side.
 */
final class ProcSelf implements ProcessView {
    /** How {@code maps} names a mapping of a VFIO device fd. */
    static final String VFIO_DEVICE = "anon_inode:[vfio-device]";
    private static final Path STATUS = Path.of("/proc/self/status");
    private static final Path MAPS = Path.of("/proc/self/maps");

    @Override
    public OptionalLong pinnedBytes() {
        for (String l : lines(STATUS)) {
            if (l.startsWith("VmLck:")) {
                String[] f = l.substring("VmLck:".length()).trim().split("\\s+");
                if (f.length != 2 || !f[1].equals("kB")) {
                    throw new GuestCheckException(STATUS + ": unexpected line '" + l + "'");
                }
                return OptionalLong.of(Long.parseLong(f[0]) * 1024);
            }
        }
        throw new GuestCheckException(STATUS + " has no VmLck line");
    }

    @Override
    public OptionalInt deviceMappings() {
        return OptionalInt.of((int) lines(MAPS).stream().filter(l -> l.endsWith(VFIO_DEVICE)).count());
    }

    @Override
    public OptionalInt memfdMappings(String memfdName) {
        String path = "/memfd:" + memfdName;
        return OptionalInt.of((int) lines(MAPS).stream().filter(l -> l.endsWith(path) || l.contains(path + " ")).count());
    }

    private static List<String> lines(Path p) {
        try {
            return Files.readAllLines(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
