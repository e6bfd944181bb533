package io.jvirtio.sys;

import io.jvirtio.spec.VirtioException;

/** A native call failed; carries the call's name and errno. */
public final class NativeException extends VirtioException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int errno;

    /**
     * @param call  the call and its salient arguments, e.g. {@code mmap(len=2097152)}
     * @param errno the errno the call left behind
     */
    public NativeException(String call, int errno) {
        super(call + " failed: " + Errno.describe(errno));
        this.call = call;
        this.errno = errno;
    }

    /** @return the call and its salient arguments */
    public String call() {
        return call;
    }

    /** @return the errno value */
    public int errno() {
        return errno;
    }
}
