package io.jvirtio.testkit.guest;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes a cpio archive in the "newc" format (SVR4 without CRC), the format the Linux kernel
 * unpacks as an initramfs ({@code Documentation/driver-api/early-userspace/buffer-format.rst}).
 * Entries are written in the order given: a directory must come before what it contains. Owner
 * is root, mtime 0 (reproducible). Not thread-safe; the caller closes the stream.
 */
final class CpioWriter {
    private static final int S_IFDIR = 0040000;
    private static final int S_IFREG = 0100000;
    private static final int S_IFLNK = 0120000;
    private static final int S_IFCHR = 0020000;

    private final OutputStream out;
    private long written;
    private int nextInode = 1;
    private boolean finished;

    CpioWriter(OutputStream out) {
        this.out = out;
    }

    /** Adds a directory. */
    void directory(String name, int permissions) throws IOException {
        header(name, S_IFDIR | permissions, 2, 0, 0, 0);
    }

    /** Adds a regular file with the given content. */
    void file(String name, int permissions, byte[] content) throws IOException {
        header(name, S_IFREG | permissions, 1, content.length, 0, 0);
        write(content);
        pad();
    }

    /** Adds a regular file copied from the host. */
    void file(String name, int permissions, Path source) throws IOException {
        long size = Files.size(source);
        if (size > 0xFFFF_FFFFL) {
            throw new IOException(source + " is too large for a newc cpio entry (" + size + " bytes)");
        }
        header(name, S_IFREG | permissions, 1, size, 0, 0);
        long copied;
        try (InputStream in = Files.newInputStream(source)) {
            copied = in.transferTo(out);
        }
        if (copied != size) {
            throw new IOException(source + " changed size while being archived (" + size + " -> " + copied + ")");
        }
        written += copied;
        pad();
    }

    /** Adds a symbolic link. */
    void symlink(String name, String target) throws IOException {
        byte[] t = target.getBytes(StandardCharsets.UTF_8);
        header(name, S_IFLNK | 0777, 1, t.length, 0, 0);
        write(t);
        pad();
    }

    /** Adds a character device node. */
    void charDevice(String name, int permissions, int major, int minor) throws IOException {
        header(name, S_IFCHR | permissions, 1, 0, major, minor);
    }

    /** Writes the trailer entry; nothing may be added afterwards. */
    void finish() throws IOException {
        if (!finished) {
            header("TRAILER!!!", 0, 1, 0, 0, 0);
            finished = true;
        }
    }

    private void header(String name, int mode, int nlink, long size, int rdevMajor, int rdevMinor) throws IOException {
        if (finished) {
            throw new IllegalStateException("cpio archive already finished");
        }
        if (name.startsWith("/")) {
            throw new IllegalArgumentException("cpio entry name must be relative: " + name);
        }
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        StringBuilder h = new StringBuilder(110);
        h.append("070701");
        hex(h, name.equals("TRAILER!!!") ? 0 : nextInode++); // c_ino
        hex(h, mode);                                          // c_mode
        hex(h, 0);                                             // c_uid
        hex(h, 0);                                             // c_gid
        hex(h, nlink);                                         // c_nlink
        hex(h, 0);                                             // c_mtime
        hex(h, size);                                          // c_filesize
        hex(h, 0);                                             // c_devmajor
        hex(h, 0);                                             // c_devminor
        hex(h, rdevMajor);                                     // c_rdevmajor
        hex(h, rdevMinor);                                     // c_rdevminor
        hex(h, n.length + 1L);                                 // c_namesize, with the NUL
        hex(h, 0);                                             // c_check
        write(h.toString().getBytes(StandardCharsets.US_ASCII));
        write(n);
        write(new byte[] {0});
        pad();
    }

    private static void hex(StringBuilder h, long v) {
        String s = Long.toHexString(v);
        h.append("0".repeat(8 - s.length())).append(s);
    }

    private void write(byte[] b) throws IOException {
        out.write(b);
        written += b.length;
    }

    /** Pads to a multiple of 4 bytes, as newc requires after the name and after the data. */
    private void pad() throws IOException {
        int r = (int) (written & 3);
        if (r != 0) {
            write(new byte[4 - r]);
        }
    }
}
