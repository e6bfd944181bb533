package io.jvirtio.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** What this process's file descriptors point at ({@code /proc/self/fd}): for "nothing stays open" checks. */
public final class OpenFiles {
    private OpenFiles() {
    }

    /** @return the targets of every open fd (a socket shows as {@code socket:[inode]}, a memfd as {@code /memfd:name (deleted)}) */
    public static List<String> list() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.map(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString();
                } catch (IOException closedMeanwhile) {
                    return "";
                }
            }).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
