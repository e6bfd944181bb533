package io.jvirtio.backend;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A server-mode device was asked to listen on a path it must not take over: a live listener serves
 * it, or something other than a stale socket is there. Reaches callers as the cause of the
 * {@link java.io.UncheckedIOException} that {@link VhostUserTarget.Builder#start()} throws; the
 * message names the path.
 */
public final class SocketInUseException extends IOException {
    private static final long serialVersionUID = 1L;

    /** The path, kept as a string so that the exception stays serializable. */
    private final String path;

    /**
     * @param path    the socket path that was refused
     * @param message what is there and why it was left alone (names the path)
     */
    public SocketInUseException(Path path, String message) {
        super(message);
        this.path = Objects.requireNonNull(path, "path").toString();
    }

    /** @return the socket path that was refused */
    public Path path() {
        return Path.of(path);
    }
}
