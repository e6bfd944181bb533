package io.jvirtio.backend.mem;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The size of the file behind a front-end's fd, checked before it is mapped: a shared mapping past
 * the end of its file maps, but the first touch beyond the file raises SIGBUS, which kills the
 * JVM (or surfaces as an {@link InternalError} in whatever thread touched it). A front-end that
 * announces more memory than its fd holds is refused at the message instead.
 */
public final class FileSize {
    private FileSize() {
    }

    /**
     * @param fd   the file descriptor
     * @param end  the first byte past what will be touched (offset plus size)
     * @param what names the mapping in the message
     * @throws IllegalArgumentException naming the fd, its file's size and {@code end} when the file
     *                                  is shorter, or when its size cannot be read
     */
    public static void requireCovers(int fd, long end, String what) {
        long size;
        try {
            size = Files.size(Path.of("/proc/self/fd/" + fd));
        } catch (IOException e) {
            throw new IllegalArgumentException(what + ": cannot read the size of the file behind fd " + fd + ": " + e.getMessage(), e);
        }
        if (Long.compareUnsigned(end, size) > 0) {
            throw new IllegalArgumentException(what + " needs 0x" + Long.toHexString(end) + " bytes of its file, but the file behind fd "
                    + fd + " has 0x" + Long.toHexString(size) + " bytes (touching past its end would be SIGBUS)");
        }
    }
}
