package io.jvirtio.sys;

/** errno values jvirtio reacts to, and a readable rendering of any errno. */
public final class Errno {
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EINTR = 4;
    public static final int EIO = 5;
    public static final int ENXIO = 6;
    public static final int EBADF = 9;
    public static final int EAGAIN = 11;
    public static final int ENOMEM = 12;
    public static final int EACCES = 13;
    public static final int EBUSY = 16;
    public static final int EEXIST = 17;
    public static final int ENODEV = 19;
    public static final int EINVAL = 22;
    public static final int ENOTTY = 25;
    public static final int ENOSPC = 28;
    public static final int ENOTSUP = 95;
    public static final int ECONNREFUSED = 111;

    private Errno() {
    }

    /**
     * @param errno an errno value
     * @return e.g. {@code errno 12 (ENOMEM: Cannot allocate memory)}
     */
    public static String describe(int errno) {
        return "errno " + errno + " (" + name(errno) + ": " + Native.strerror(errno) + ")";
    }

    private static String name(int errno) {
        return switch (errno) {
            case EPERM -> "EPERM";
            case ENOENT -> "ENOENT";
            case EINTR -> "EINTR";
            case EIO -> "EIO";
            case ENXIO -> "ENXIO";
            case EBADF -> "EBADF";
            case EAGAIN -> "EAGAIN";
            case ENOMEM -> "ENOMEM";
            case EACCES -> "EACCES";
            case EBUSY -> "EBUSY";
            case EEXIST -> "EEXIST";
            case ENODEV -> "ENODEV";
            case EINVAL -> "EINVAL";
            case ENOTTY -> "ENOTTY";
            case ENOSPC -> "ENOSPC";
            case ENOTSUP -> "ENOTSUP";
            case ECONNREFUSED -> "ECONNREFUSED";
            default -> "E?";
        };
    }
}
