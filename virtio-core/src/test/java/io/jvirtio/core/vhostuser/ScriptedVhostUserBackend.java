package io.jvirtio.core.vhostuser;

import io.jvirtio.spec.vhostuser.VhostUserConfig;
import io.jvirtio.spec.vhostuser.VhostUserHeader;
import io.jvirtio.spec.vhostuser.VhostUserMessage;
import io.jvirtio.spec.vhostuser.VhostUserPayload;
import io.jvirtio.spec.vhostuser.VhostUserProtocolFeature;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import io.jvirtio.spec.vhostuser.VhostUserU64;
import io.jvirtio.spec.vhostuser.VhostUserVringState;

import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.sys.Native;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;

import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A scripted vhost-user back-end for tests: listens on a unix socket, serves one front-end in a
 * thread, records every message (with the fds that came with it, dup'ed) and answers like a
 * well-behaved back-end unless a test overrides the answer to a request.
 */
final class ScriptedVhostUserBackend implements AutoCloseable {
    static final long DEFAULT_FEATURES = VirtioFeatures.bit(VirtioFeatures.VIRTIO_F_VERSION_1)
            | VirtioFeatures.bit(VirtioFeatures.VHOST_USER_F_PROTOCOL_FEATURES) | 0x46L;
    static final long DEFAULT_PROTOCOL_FEATURES = VhostUserProtocolFeature.bit(VhostUserProtocolFeature.MQ)
            | VhostUserProtocolFeature.bit(VhostUserProtocolFeature.REPLY_ACK) | VhostUserProtocolFeature.bit(VhostUserProtocolFeature.CONFIG);
    static final int REPLY_FLAGS = VhostUserHeader.VERSION | VhostUserHeader.FLAG_REPLY;

    /** One received message. */
    record Received(VhostUserHeader header, byte[] payload, int[] fds) {
        VhostUserRequest request() {
            return VhostUserRequest.fromCode(header.request());
        }

        ByteBuffer body() {
            return VhostUserMessage.wrap(payload);
        }

        boolean needReply() {
            return header.needsReply();
        }
    }

    /** Answers one message; may write anything, nothing, or close. */
    @FunctionalInterface
    interface Handler {
        void handle(Received msg, Peer peer) throws Exception;
    }

    /** The connection to the front-end, as seen by a handler. */
    final class Peer {
        private final AFUNIXSocket socket;
        private final OutputStream out;

        Peer(AFUNIXSocket socket) throws IOException {
            this.socket = socket;
            this.out = socket.getOutputStream();
        }

        /** Writes raw bytes. */
        void raw(byte[] bytes) throws IOException {
            out.write(bytes);
            out.flush();
        }

        /** Writes a header with any fields, then a payload. */
        void reply(int code, int flags, int size, byte[] payload) throws IOException {
            ByteBuffer b = VhostUserMessage.buffer(VhostUserHeader.SIZE + payload.length);
            new VhostUserHeader(code, flags, size).encode(b);
            b.put(payload);
            raw(b.array());
        }

        /** A well-formed reply to {@code msg}. */
        void reply(Received msg, VhostUserPayload payload) throws IOException {
            ByteBuffer b = VhostUserMessage.buffer(payload.size());
            payload.encode(b);
            reply(msg.header.request(), REPLY_FLAGS, payload.size(), b.array());
        }

        void replyU64(Received msg, long value) throws IOException {
            reply(msg, new VhostUserU64(value));
        }

        /** Closes the connection. */
        void close() throws IOException {
            socket.close();
        }
    }

    final Path socketPath;
    volatile long features = DEFAULT_FEATURES;
    volatile long protocolFeatures = DEFAULT_PROTOCOL_FEATURES;
    volatile long queueNum = 2;
    volatile long maxMemSlots = 32;
    volatile long status;
    volatile byte[] config = new byte[60];
    final Map<Integer, Integer> vringBase = new ConcurrentHashMap<>();
    final List<Received> received = new CopyOnWriteArrayList<>();
    final List<Throwable> errors = new CopyOnWriteArrayList<>();
    private final Map<VhostUserRequest, Handler> overrides = new EnumMap<>(VhostUserRequest.class);
    private final List<Integer> ownedFds = new CopyOnWriteArrayList<>();
    private final AFUNIXServerSocket server;
    private final Thread thread;
    private volatile AFUNIXSocket client;
    private volatile boolean eof;

    ScriptedVhostUserBackend(Path socketPath) throws IOException {
        this.socketPath = socketPath;
        this.server = AFUNIXServerSocket.newInstance();
        server.bind(AFUNIXSocketAddress.of(socketPath));
        this.thread = Thread.ofPlatform().daemon().name("fake-vhost-user").start(this::serve);
    }

    /** Replaces the default answer to {@code request}. */
    synchronized ScriptedVhostUserBackend on(VhostUserRequest request, Handler handler) {
        overrides.put(request, handler);
        return this;
    }

    private synchronized Handler handlerFor(VhostUserRequest request) {
        return request == null ? null : overrides.get(request);
    }

    /** @return the requests received so far, in order */
    List<VhostUserRequest> requests() {
        List<VhostUserRequest> l = new ArrayList<>();
        for (Received r : received) {
            l.add(r.request());
        }
        return l;
    }

    /** Waits until {@code count} messages arrived (for messages that get no reply). */
    void awaitMessages(int count) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (received.size() < count && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
    }

    /** @return the last message of that type, or null */
    Received last(VhostUserRequest request) {
        Received found = null;
        for (Received r : received) {
            if (r.request() == request) {
                found = r;
            }
        }
        return found;
    }

    /** @return whether the front-end closed its end */
    boolean sawEof() {
        return eof;
    }

    private void serve() {
        try {
            AFUNIXSocket s = server.accept();
            client = s;
            s.setAncillaryReceiveBufferSize(1024);
            InputStream in = s.getInputStream();
            Peer peer = new Peer(s);
            while (true) {
                byte[] head = new byte[VhostUserHeader.SIZE];
                if (!readFully(in, head)) {
                    eof = true;
                    return;
                }
                int[] fds = takeFds(s);
                VhostUserHeader h = VhostUserHeader.decode(VhostUserMessage.wrap(head));
                byte[] body = new byte[h.size()];
                if (!readFully(in, body)) {
                    eof = true;
                    return;
                }
                Received msg = new Received(h, body, fds);
                received.add(msg);
                Handler override = handlerFor(msg.request());
                if (override != null) {
                    override.handle(msg, peer);
                } else {
                    answer(msg, peer);
                }
            }
        } catch (Throwable t) {
            if (!server.isClosed()) {
                errors.add(t);
            }
        }
    }

    private int[] takeFds(AFUNIXSocket s) throws IOException {
        FileDescriptor[] got = s.getReceivedFileDescriptors();
        if (got == null) {
            return new int[0];
        }
        int[] fds = new int[got.length];
        for (int i = 0; i < got.length; i++) {
            fds[i] = Native.dup(FileDescriptorCast.using(got[i]).as(Integer.class));
            ownedFds.add(fds[i]);
        }
        return fds;
    }

    private static boolean readFully(InputStream in, byte[] buf) throws IOException {
        int off = 0;
        while (off < buf.length) {
            int n = in.read(buf, off, buf.length - off);
            if (n < 0) {
                return false;
            }
            off += n;
        }
        return true;
    }

    private void answer(Received msg, Peer peer) throws IOException {
        VhostUserRequest r = msg.request();
        switch (r) {
            case GET_FEATURES -> peer.replyU64(msg, features);
            case GET_PROTOCOL_FEATURES -> peer.replyU64(msg, protocolFeatures);
            case GET_QUEUE_NUM -> peer.replyU64(msg, queueNum);
            case GET_MAX_MEM_SLOTS -> peer.replyU64(msg, maxMemSlots);
            case GET_STATUS -> peer.replyU64(msg, status);
            case SET_STATUS -> status = VhostUserU64.decode(msg.body()).value();
            case SET_VRING_BASE -> {
                VhostUserVringState st = VhostUserVringState.decode(msg.body());
                vringBase.put(st.index(), st.num());
            }
            case GET_VRING_BASE -> {
                VhostUserVringState st = VhostUserVringState.decode(msg.body());
                peer.reply(msg, new VhostUserVringState(st.index(), vringBase.getOrDefault(st.index(), 0)));
            }
            case GET_CONFIG -> {
                VhostUserConfig asked = VhostUserConfig.decode(msg.body());
                byte[] cfg = config;
                if (asked.configSize() > cfg.length) {
                    peer.reply(msg.header.request(), REPLY_FLAGS, 0, new byte[0]);
                } else {
                    byte[] part = new byte[asked.configSize()];
                    System.arraycopy(cfg, 0, part, 0, part.length);
                    peer.reply(msg, new VhostUserConfig(asked.offset(), asked.flags(), part));
                }
            }
            default -> {
                // no reply body
            }
        }
        if (msg.needReply() && !r.hasReply()) {
            peer.replyU64(msg, 0);
        }
    }

    @Override
    public void close() throws Exception {
        server.close();
        AFUNIXSocket c = client;
        if (c != null) {
            c.close();
        }
        thread.join(5000);
        for (int fd : ownedFds) {
            Native.closeQuietly(fd);
        }
    }
}
