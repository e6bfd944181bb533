package io.jvirtio.config;

import io.jvirtio.sys.OwnedServerSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * SPDK's JSON-RPC server on a Unix socket, for what a {@link BdevRegistry} holds: SPDK's own
 * {@code scripts/rpc.py -s PATH ...} works against it unchanged. An embedding engine starts it
 * in-process; {@code jvirtio serve --rpc-socket PATH} is this class on the command line.
 *
 * <pre>{@code
 * try (BdevRegistry registry = new BdevRegistry();
 *      RpcServer rpc = RpcServer.start(Path.of("/var/tmp/jvirtio.sock"), registry)) {
 *     ...   // rpc.py -s /var/tmp/jvirtio.sock bdev_virtio_attach_controller -t user -a ... -d blk VirtioBlk0
 * }
 * }</pre>
 *
 * <p>On the wire as SPDK's {@code lib/jsonrpc}: JSON values back to back with no length prefix, a
 * request possibly split across reads, each response one compact JSON object and a newline, in
 * request order; several requests per connection and several connections (at most
 * {@value #MAX_CONNECTIONS}, as SPDK). Requests are handled one at a time (SPDK's single RPC thread).
 * Methods: {@link JsonRpc#METHODS} plus {@code rpc_get_methods}, {@code spdk_get_version} (jvirtio's
 * version in SPDK's shape) and {@code framework_get_subsystems}; errors as {@link RpcDispatcher}
 * and {@link JsonRpc} describe.
 *
 * <p>The socket path is owned as {@link OwnedServerSocket} owns it: a live socket is refused, a
 * stale one replaced, and {@link #close()} removes only the file this server created. One thread
 * accepts, one thread serves each connection (connections are few and requests short).
 */
public final class RpcServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RpcServer.class);

    /** Connections served at once, as SPDK's {@code SPDK_JSONRPC_MAX_CONNS}; more are closed at once. */
    public static final int MAX_CONNECTIONS = 64;
    /** The longest request accepted (SPDK's receive buffer is 32 KiB; config entries can be long). */
    public static final int MAX_REQUEST_BYTES = 1 << 20;
    private static final long JOIN_MILLIS = 5_000;

    private final OwnedServerSocket listener;
    private final RpcDispatcher dispatcher;
    private final Thread acceptor;
    private final Set<RpcConnection> connections = ConcurrentHashMap.newKeySet();
    private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
    private final AtomicInteger connectionIds = new AtomicInteger();
    private volatile boolean closed;

    private RpcServer(OwnedServerSocket listener, RpcDispatcher dispatcher) {
        this.listener = listener;
        this.dispatcher = dispatcher;
        this.acceptor = Thread.ofPlatform().daemon().name("jvirtio-rpc-accept").unstarted(this::acceptLoop);
    }

    /**
     * Listens on {@code socket} and serves JSON-RPC for {@code registry} until {@link #close()}.
     * The registry stays the caller's: closing the server does not detach anything.
     *
     * @param socket   the Unix socket path (rpc.py's {@code -s})
     * @param registry the controllers and bdevs the methods act on
     * @return the running server
     * @throws io.jvirtio.spec.vhostuser.SocketInUseException when a live server listens on the path, or it is not a socket
     * @throws IOException when binding fails otherwise
     */
    public static RpcServer start(Path socket, BdevRegistry registry) throws IOException {
        Objects.requireNonNull(socket, "socket");
        RpcDispatcher dispatcher = new RpcDispatcher(Objects.requireNonNull(registry, "registry"), RpcVersion.jvirtio());
        OwnedServerSocket listener = OwnedServerSocket.bind(socket);
        if (listener.replacedStale()) {
            LOG.info("replaced the stale socket {}", socket);
        }
        RpcServer server = new RpcServer(listener, dispatcher);
        server.acceptor.start();
        LOG.info("JSON-RPC server listening on {}", socket);
        return server;
    }

    /** @return the socket path */
    public Path socket() {
        return listener.path();
    }

    /** @return the methods served, sorted, as {@code rpc_get_methods} lists them */
    public List<String> methods() {
        return dispatcher.methods();
    }

    /** @return the number of connections open now */
    public int connectionCount() {
        return connections.size();
    }

    private void acceptLoop() {
        while (!closed) {
            Socket s;
            try {
                s = listener.server().accept();
            } catch (IOException e) {
                if (!closed) {
                    LOG.error("JSON-RPC server on {} stopped accepting: {}", socket(), e.toString());
                }
                return;
            }
            if (closed) {
                closeQuietly(s);
                return;
            }
            if (connections.size() >= MAX_CONNECTIONS) {
                LOG.warn("JSON-RPC server on {}: {} connections already open; closing a new one", socket(), MAX_CONNECTIONS);
                closeQuietly(s);
                continue;
            }
            String name = "jvirtio-rpc-" + connectionIds.incrementAndGet();
            RpcConnection[] self = new RpcConnection[1];
            Thread[] thread = new Thread[1];
            self[0] = new RpcConnection(s, dispatcher, MAX_REQUEST_BYTES, name, () -> {
                connections.remove(self[0]);
                threads.remove(thread[0]);
            });
            connections.add(self[0]);
            thread[0] = Thread.ofPlatform().daemon().name(name).unstarted(self[0]);
            threads.add(thread[0]);
            thread[0].start();
        }
    }

    /**
     * Stops listening, removes the socket file (if it is still this server's), closes every
     * connection and waits for their threads. A request being handled finishes first (its answer
     * is not sent). Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        OwnedServerSocket.Removal removal = listener.close();
        if (removal == OwnedServerSocket.Removal.REPLACED || removal == OwnedServerSocket.Removal.FAILED) {
            LOG.warn("JSON-RPC server on {}: socket file {}", socket(), removal == OwnedServerSocket.Removal.REPLACED
                    ? "was replaced by someone else; left alone" : "could not be removed");
        }
        for (RpcConnection c : new ArrayList<>(connections)) {
            c.close();
        }
        join(acceptor);
        for (Thread t : new ArrayList<>(threads)) {
            join(t);
        }
        LOG.info("JSON-RPC server on {} closed", socket());
    }

    private static void join(Thread t) {
        try {
            t.join(JOIN_MILLIS);
            if (t.isAlive()) {
                LOG.warn("{} did not end within {} ms", t.getName(), JOIN_MILLIS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // a connection refused: nothing to do
        }
    }
}
