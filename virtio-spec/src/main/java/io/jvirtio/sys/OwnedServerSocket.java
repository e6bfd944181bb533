package io.jvirtio.sys;

import io.jvirtio.spec.vhostuser.SocketInUseException;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AddressAlreadyInUseSocketException;
import org.newsclub.net.unix.ConnectionRefusedSocketException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;

/**
 * A listening Unix socket that owns its path, and only its path: the rules both server modes follow
 * (the Java target's and the front-end's, DPDK virtio_user's {@code server=1}). An existing path is
 * replaced only when it is a stale socket (nobody accepts on it); a live one, or anything that is
 * not a socket, is refused with {@link SocketInUseException}. On close the socket file is removed
 * only when the path still holds the file this socket created. Without this, a second listener on a
 * live path silently takes the first one's peers, and its close later deletes the first one's socket.
 */
public final class OwnedServerSocket {
    /** What {@link #close()} did with the socket file, for the owner's log. */
    public enum Removal {
        /** the file this socket created was removed */
        REMOVED,
        /** the path was already empty */
        GONE,
        /** the path holds another file now; it was left alone */
        REPLACED,
        /** removing it failed (the socket is closed all the same) */
        FAILED
    }

    private final Path path;
    private final AFUNIXServerSocket server;
    private final FileIdentity created;
    private final boolean replacedStale;

    private OwnedServerSocket(Path path, AFUNIXServerSocket server, FileIdentity created, boolean replacedStale) {
        this.path = path;
        this.server = server;
        this.created = created;
        this.replacedStale = replacedStale;
    }

    /** Listens on {@code path} with junixsocket's default backlog; see {@link #bind(Path, int)}. */
    public static OwnedServerSocket bind(Path path) throws IOException {
        return bind(path, 0);
    }

    /**
     * Listens on {@code path}.
     *
     * @param backlog the listen backlog; 0 for junixsocket's default
     * @throws SocketInUseException naming the path: a live listener serves it, it is not a socket, it
     *                              changed while being checked, or it was created by someone else meanwhile
     * @throws IOException          when binding fails otherwise
     */
    public static OwnedServerSocket bind(Path path, int backlog) throws IOException {
        BasicFileAttributes attrs = attributes(path);
        boolean replaced = false;
        if (attrs != null) {
            if (!isSocket(path, attrs)) {
                throw new SocketInUseException(path, path + " exists and is not a socket; refusing to replace it");
            }
            switch (probe(path)) {
                case LIVE -> throw new SocketInUseException(path, "socket " + path + " is served by a live listener; refusing to take it over");
                case STALE -> replaced = removeStale(path, FileIdentity.of(attrs));
                case GONE -> {
                    // removed while it was being looked at: nothing to take over
                }
            }
        }
        AFUNIXServerSocket s = AFUNIXServerSocket.newInstance();
        try {
            // junixsocket's defaults unlink whatever is at the path when binding (reuse address) and
            // when closing (delete on close), a live socket or a regular file alike; ownership is
            // decided here instead, and bind fails if somebody created the path since the checks above
            s.setReuseAddress(false);
            s.setDeleteOnClose(false);
            if (backlog > 0) {
                s.bind(AFUNIXSocketAddress.of(path), backlog);
            } else {
                s.bind(AFUNIXSocketAddress.of(path));
            }
            BasicFileAttributes a = attributes(path);
            return new OwnedServerSocket(path, s, a == null ? null : FileIdentity.of(a), replaced);
        } catch (AddressAlreadyInUseSocketException e) {
            s.close();
            throw new SocketInUseException(path, "socket " + path + " was created by someone else while binding; refusing to take it over");
        } catch (IOException e) {
            s.close();
            throw e;
        }
    }

    /** @return the listening socket */
    public AFUNIXServerSocket server() {
        return server;
    }

    /** @return the path */
    public Path path() {
        return path;
    }

    /** @return whether binding replaced a stale socket file that nobody listened on */
    public boolean replacedStale() {
        return replacedStale;
    }

    /**
     * Removes the socket file if the path still holds the one this socket created, then stops
     * listening. In that order: while the listener is open its inode stays in use, so no other file
     * at the path can carry the same file key.
     *
     * @return what became of the socket file, for the owner's log
     */
    public Removal close() {
        Removal r = removeOwnFile();
        try {
            server.close();
        } catch (IOException e) {
            // closing a listener: nothing a caller could do
        }
        return r;
    }

    private Removal removeOwnFile() {
        if (created == null) {
            return Removal.GONE;
        }
        FileIdentity now = FileIdentity.at(path);
        if (now == null) {
            return Removal.GONE;
        }
        if (!created.equals(now)) {
            return Removal.REPLACED;
        }
        try {
            Files.delete(path);
            return Removal.REMOVED;
        } catch (NoSuchFileException e) {
            return Removal.GONE;
        } catch (IOException e) {
            return Removal.FAILED;
        }
    }

    private enum Probe { LIVE, STALE, GONE }

    /** Finds out whether anybody accepts connections on the socket at {@code path}. */
    private static Probe probe(Path path) throws IOException {
        try (AFUNIXSocketChannel c = AFUNIXSocketChannel.open()) {
            // non-blocking, because a blocking connect to a listener whose backlog is full waits
            // until it accepts (junixsocket's connect timeout does not bound that wait); such a
            // connect stays pending instead, and pending or done, somebody listens
            c.configureBlocking(false);
            c.connect(AFUNIXSocketAddress.of(path));
            return Probe.LIVE;
        } catch (ConnectionRefusedSocketException e) {
            return Probe.STALE; // a socket file nobody listens on: left by a process that ended without removing it
        } catch (IOException e) {
            if (attributes(path) == null) {
                return Probe.GONE;
            }
            // e.g. no permission to connect: it may well be live, so it is not ours to remove
            throw new SocketInUseException(path, "socket " + path + " cannot be probed (" + e.getMessage() + "); refusing to replace it");
        }
    }

    /**
     * Removes the stale socket at {@code path}, unless it changed since it was probed.
     *
     * @return whether this call removed it
     */
    private static boolean removeStale(Path path, FileIdentity probed) throws IOException {
        // two listeners starting at once may both find the same stale file; the one that binds first
        // must not have its new socket removed by the other
        FileIdentity now = FileIdentity.at(path);
        if (now == null) {
            return false; // removed meanwhile: binding decides who gets the path
        }
        if (!probed.equals(now)) {
            throw new SocketInUseException(path, "socket " + path + " changed while it was being checked; refusing to take it over");
        }
        try {
            Files.delete(path);
            return true;
        } catch (NoSuchFileException e) {
            return false; // somebody else removed it meanwhile; binding decides who gets the path
        }
    }

    private static BasicFileAttributes attributes(Path path) {
        try {
            return Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            return null; // does not exist (or cannot be looked at, which binding reports)
        }
    }

    private static boolean isSocket(Path path, BasicFileAttributes attrs) {
        try {
            int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            return (mode & LinuxConstants.S_IFMT) == LinuxConstants.S_IFSOCK; // a FIFO or a device node is "other" too
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return attrs.isOther();
        }
    }

    /**
     * Which file a path holds: device and inode where the platform has them (the file key), and the
     * modification time, which tells apart a file that reuses a freed inode number.
     */
    private record FileIdentity(Object key, FileTime modified) {
        static FileIdentity of(BasicFileAttributes a) {
            return new FileIdentity(a.fileKey(), a.lastModifiedTime());
        }

        /** @return what {@code path} holds now, or null when nothing */
        static FileIdentity at(Path path) {
            BasicFileAttributes a = attributes(path);
            return a == null ? null : of(a);
        }
    }
}
