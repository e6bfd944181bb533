package io.jvirtio.tools;

import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.testkit.QemuStorageDaemon;

import java.nio.file.Path;

/**
 * The vhost-user-blk target a command attaches to: an existing socket, or a qemu-storage-daemon
 * started for the occasion (closed with this object).
 */
final class Target implements AutoCloseable {
    private final QemuStorageDaemon qsd;
    private final Path socket;
    private final long pid;

    private Target(QemuStorageDaemon qsd, Path socket, long pid) {
        this.qsd = qsd;
        this.socket = socket;
        this.pid = pid;
    }

    /** A target somebody else runs; {@code pid} may be -1 when unknown (then its CPU time is not reported). */
    static Target existing(Path socket, long pid) {
        return new Target(null, socket, pid);
    }

    /** Starts qemu-storage-daemon with the given builder. */
    static Target start(QemuStorageDaemon.Builder builder) {
        QemuStorageDaemon qsd = builder.start();
        return new Target(qsd, qsd.socketPath(), qsd.pid());
    }

    Path socket() {
        return socket;
    }

    long pid() {
        return pid;
    }

    VirtioBlkDevice attach(String name, VirtioBlkOptions options) {
        return VirtioBlkDevice.connectVhostUser(name, socket, options);
    }

    @Override
    public void close() {
        if (qsd != null) {
            qsd.close();
        }
    }
}
