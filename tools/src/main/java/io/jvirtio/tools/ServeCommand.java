package io.jvirtio.tools;

import io.jvirtio.config.BdevRegistry;
import io.jvirtio.config.RpcServer;
import io.jvirtio.spec.vhostuser.SocketInUseException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * {@code jvirtio serve --rpc-socket PATH [--json CONFIG]}: json-config's {@link RpcServer} on the
 * command line. Loads the config first when given, listens, prints where, and serves SPDK's
 * {@code scripts/rpc.py} until SIGINT or SIGTERM; then closes the server (removing its socket) and
 * the registry (detaching every controller). A live server on the path is refused (exit 1: the
 * command line is fine, the path is taken); a stale socket file is replaced.
 */
@Command(name = "serve", description = {"Serve SPDK's JSON-RPC (rpc.py -s PATH ...) on a Unix socket for the controllers jvirtio attaches,"
        + " until stopped (Ctrl-C or SIGTERM).",
        "Methods: bdev_virtio_attach_controller, bdev_virtio_detach_controller, bdev_virtio_scsi_get_devices, bdev_get_bdevs,"
                + " bdev_get_iostat, framework_get_config, save_config, rpc_get_methods, spdk_get_version, framework_get_subsystems."},
        footerHeading = "%nNotes:%n",
        footer = {"Example:",
                "  jvirtio serve --rpc-socket /var/tmp/jvirtio.sock &",
                "  scripts/rpc.py -s /var/tmp/jvirtio.sock bdev_virtio_attach_controller \\",
                "      -t user -a /var/tmp/vhost.blk0 -d blk VirtioBlk0",
                "  jvirtio iostat -s /var/tmp/jvirtio.sock -i 1",
                "Exit status: 0 stopped by a signal, 1 the socket is taken or the config",
                "  failed to attach, 2 a bad command line."})
final class ServeCommand implements Callable<Integer> {
    private final Cli cli;

    @Option(names = {"--rpc-socket", "-r"}, paramLabel = "PATH", required = true,
            description = "The Unix socket to listen on (SPDK's -r; rpc.py's -s).")
    Path socket;

    @Option(names = {"--json", "-c", "--config"}, paramLabel = "CONFIG", description = "Attach what this SPDK JSON config names before serving.")
    Path config;

    @Option(names = "--skip-unsupported", description = "With --json: skip config methods jvirtio does not have, with a warning.")
    boolean skipUnsupported;

    ServeCommand(Cli cli) {
        this.cli = cli;
    }

    /**
     * What a running serve holds: the registry the methods act on and the server.
     *
     * @param registry the controllers and bdevs
     * @param server   the JSON-RPC server on the socket
     */
    record Serving(BdevRegistry registry, RpcServer server) implements AutoCloseable {
        /** Closes the server (removing its socket), then the registry (detaching everything). */
        @Override
        public void close() {
            try {
                server.close();
            } finally {
                registry.close();
            }
        }
    }

    /** Loads the config (when given) and starts the server; on failure nothing stays open. */
    Serving open() throws InterruptedException {
        if (skipUnsupported && config == null) {
            throw new UserError("--skip-unsupported: only with --json CONFIG");
        }
        Path parent = socket.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            throw new UserError("--rpc-socket " + socket + ": no such directory " + parent);
        }
        BdevRegistry registry = config != null ? ConfigCommands.load(config, skipUnsupported, cli.progress(cli.err())) : new BdevRegistry();
        try {
            return new Serving(registry, RpcServer.start(socket, registry));
        } catch (SocketInUseException e) {
            registry.close();
            throw new IllegalStateException("--rpc-socket " + socket + ": " + e.getMessage()
                    + " (another jvirtio serve or SPDK application listens there; stop it or give another path)", e);
        } catch (IOException | RuntimeException e) {
            registry.close();
            throw new IllegalStateException("--rpc-socket " + socket + ": cannot listen: " + e.getMessage(), e);
        }
    }

    @Override
    public Integer call() throws Exception {
        Serving serving = open();
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            try {
                serving.close();
                cli.out().println("stopped; " + socket + " removed");
                cli.out().flush();
            } finally {
                stopped.countDown();
            }
        }, "jvirtio-serve-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        cli.out().println("serving JSON-RPC on " + serving.server().socket() + " (" + serving.registry().bdevs().size() + " bdevs): rpc.py -s "
                + serving.server().socket() + " METHOD ...; stop with Ctrl-C or SIGTERM");
        cli.out().flush();
        stopped.await();
        return 0;
    }
}
