package io.jvirtio.spec.vhostuser;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A vhost-user socket was to be listened on at a path that must not be taken over: a live listener
 * serves it, or something other than a stale socket is there. The Java target's server mode and the
 * front-end's server mode both refuse with it (the target as the cause of the
 * {@link java.io.UncheckedIOException} its builder's {@code start()} throws); the message names the path.
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
