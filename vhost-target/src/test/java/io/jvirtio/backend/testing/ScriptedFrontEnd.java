package io.jvirtio.backend.testing;

import io.jvirtio.spec.vhostuser.VhostUserHeader;
import io.jvirtio.spec.vhostuser.VhostUserMessage;
import io.jvirtio.spec.vhostuser.VhostUserPayload;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import io.jvirtio.spec.vhostuser.VhostUserU64;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;

import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A front-end driven by a test script, message by message: it sends whatever bytes and fds the
 * test says (valid or not) and reads replies raw, so protocol tests see exactly what the back-end
 * answers.
 */
public final class ScriptedFrontEnd implements AutoCloseable {
    public static final Duration REPLY_TIMEOUT = Duration.ofSeconds(5);

    private final AFUNIXSocket socket;
    private final InputStream in;
    private final OutputStream out;
    private boolean replyAck;

    private ScriptedFrontEnd(AFUNIXSocket socket) throws IOException {
        this.socket = socket;
        socket.setAncillaryReceiveBufferSize(1024);
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
    }

    /** Connects to a back-end listening on {@code path}. */
    public static ScriptedFrontEnd connect(Path path) throws IOException {
        return new ScriptedFrontEnd(AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(path)));
    }

    /** Drives an already connected socket (client-mode tests accept the back-end's connection). */
    public static ScriptedFrontEnd over(AFUNIXSocket socket) throws IOException {
        return new ScriptedFrontEnd(socket);
    }

    /** A reply as read from the wire. */
    public record Reply(VhostUserHeader header, byte[] payload, int[] fds) {
        public ByteBuffer buf() {
            return VhostUserMessage.wrap(payload);
        }

        public long u64() {
            assertEquals(VhostUserU64.SIZE, payload.length, "u64 reply size to " + VhostUserRequest.describe(header.request()));
            return buf().getLong();
        }
    }

    /** From now on, requests without a reply of their own ask for (and wait for) REPLY_ACK. */
    public void useReplyAck(boolean on) {
        this.replyAck = on;
    }

    /** Sends anything: any code, flags, payload bytes and fds. */
    public void sendRaw(int code, int flags, byte[] payload, int... fds) throws IOException {
        ByteBuffer buf = VhostUserMessage.buffer(VhostUserHeader.SIZE + payload.length);
        new VhostUserHeader(code, flags, payload.length).encode(buf);
        buf.put(payload);
        if (fds.length > 0) {
            FileDescriptor[] w = new FileDescriptor[fds.length];
            for (int i = 0; i < fds.length; i++) {
                w[i] = FileDescriptorCast.unsafeUsing(fds[i]).getFileDescriptor();
            }
            socket.setOutboundFileDescriptors(w);
        }
        out.write(buf.array());
        out.flush();
    }

    /** Writes raw bytes (a header that lies, half a message). */
    public void sendBytes(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** @return the encoded payload */
    public static byte[] encode(VhostUserPayload p) {
        if (p == null) {
            return new byte[0];
        }
        ByteBuffer b = VhostUserMessage.buffer(p.size());
        p.encode(b);
        return b.array();
    }

    /** Sends a request without NEED_REPLY. */
    public void send(VhostUserRequest r, VhostUserPayload p, int... fds) throws IOException {
        sendRaw(r.code(), VhostUserHeader.VERSION, encode(p), fds);
    }

    /**
     * Sends a request that has no reply of its own; with REPLY_ACK in use it asks for the ack and
     * checks it is 0.
     */
    public void command(VhostUserRequest r, VhostUserPayload p, int... fds) throws IOException {
        sendRaw(r.code(), VhostUserHeader.VERSION | (replyAck ? VhostUserHeader.FLAG_NEED_REPLY : 0), encode(p), fds);
        if (replyAck) {
            Reply a = read();
            assertEquals(r.code(), a.header().request(), "ack request code");
            assertEquals(0, a.u64(), "REPLY_ACK of " + r);
        }
    }

    /** Sends a request with a reply and returns the reply, checked for code, version and REPLY flag. */
    public Reply call(VhostUserRequest r, VhostUserPayload p, int... fds) throws IOException {
        send(r, p, fds);
        Reply rep = read();
        assertEquals(r.code(), rep.header().request(), "reply code to " + r);
        assertEquals(VhostUserHeader.VERSION | VhostUserHeader.FLAG_REPLY, rep.header().flags(), "reply flags to " + r);
        return rep;
    }

    /** Calls a request whose reply is a u64. */
    public long callU64(VhostUserRequest r) throws IOException {
        return call(r, null).u64();
    }

    /** Reads one reply (within {@link #REPLY_TIMEOUT}). */
    public Reply read() throws IOException {
        socket.setSoTimeout((int) REPLY_TIMEOUT.toMillis());
        byte[] head = new byte[VhostUserHeader.SIZE];
        try {
            if (!readFully(head)) {
                fail("the back-end closed the connection instead of replying");
            }
            int[] fds = fds();
            VhostUserHeader h = VhostUserHeader.decode(VhostUserMessage.wrap(head));
            byte[] body = new byte[h.size()];
            if (!readFully(body)) {
                fail("the back-end closed the connection in the middle of a reply");
            }
            int[] more = fds();
            int[] all = Arrays.copyOf(fds, fds.length + more.length);
            System.arraycopy(more, 0, all, fds.length, more.length);
            return new Reply(h, body, all);
        } catch (SocketTimeoutException e) {
            throw new AssertionError("no reply within " + REPLY_TIMEOUT.toMillis() + " ms", e);
        }
    }

    private int[] fds() throws IOException {
        FileDescriptor[] got = socket.getReceivedFileDescriptors();
        if (got == null) {
            return new int[0];
        }
        int[] r = new int[got.length];
        for (int i = 0; i < got.length; i++) {
            r[i] = FileDescriptorCast.using(got[i]).as(Integer.class);
        }
        return r;
    }

    private boolean readFully(byte[] b) throws IOException {
        int off = 0;
        while (off < b.length) {
            int n = in.read(b, off, b.length - off);
            if (n < 0) {
                return false;
            }
            off += n;
        }
        return true;
    }

    /**
     * Waits for the back-end to close the connection, discarding anything it sends.
     *
     * @return true when it closed within {@code timeout}
     */
    public boolean awaitClosed(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        byte[] sink = new byte[4096];
        while (System.nanoTime() < deadline) {
            socket.setSoTimeout((int) Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
            try {
                if (in.read(sink) < 0) {
                    return true;
                }
            } catch (SocketTimeoutException e) {
                return false;
            } catch (IOException e) {
                return true; // reset by peer
            }
        }
        return false;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
