package io.jvirtio.backend.vhost;

import io.jvirtio.spec.vhostuser.VhostUserHeader;
import io.jvirtio.spec.vhostuser.VhostUserMessage;
import io.jvirtio.spec.vhostuser.VhostUserPayload;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import io.jvirtio.spec.vhostuser.VhostUserU64;
import io.jvirtio.backend.fault.FaultInjector;
import io.jvirtio.backend.fault.ReplyFault;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.FileDescriptorCast;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The back-end end of one vhost-user socket: reads one message at a time (never past its end, so
 * the fds of the next message cannot be taken for this one's) and writes replies in one call each,
 * with their fds. Header checks happen here: version 1, no REPLY flag on a request, no unknown flag,
 * a payload of at most {@link VhostUserHeader#MAX_PAYLOAD_SIZE}, at most
 * {@link #MAX_FDS_PER_MESSAGE} fds. Replies pass through the {@link FaultInjector}.
 *
 * <p>Used by the connection's thread only, except {@link #shutdown}.
 */
final class MessageChannel implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MessageChannel.class);

    /** {@code VHOST_MEMORY_BASELINE_NREGIONS}: no front-end message carries more fds. */
    static final int MAX_FDS_PER_MESSAGE = 8;
    /** How often a blocked read looks at the abort flag. */
    static final int ABORT_POLL_MILLIS = 100;
    /** Room for well over {@link #MAX_FDS_PER_MESSAGE} fds, so that a few too many are seen and refused, not truncated. */
    private static final int ANCILLARY_BUFFER = 1024;

    private final AFUNIXSocket socket;
    private final InputStream in;
    private final OutputStream out;
    private final String name;
    private final FaultInjector faults;
    private volatile boolean aborted;

    MessageChannel(AFUNIXSocket socket, String name, FaultInjector faults) throws IOException {
        this.socket = socket;
        this.name = name;
        this.faults = faults;
        socket.setAncillaryReceiveBufferSize(ANCILLARY_BUFFER);
        socket.setSoTimeout(ABORT_POLL_MILLIS);
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
    }

    /**
     * Reads the next message.
     *
     * @return the message, or null when the front-end closed the connection between messages
     * @throws ProtocolException on a malformed header, an oversized payload, too many fds or a
     *                           connection closed in the middle of a message
     * @throws IOException       when the socket fails
     */
    FrontendMessage read() throws IOException, ProtocolException {
        byte[] head = new byte[VhostUserHeader.SIZE];
        int[] fds = new int[0];
        if (!readFully(head, "a message header")) {
            return null;
        }
        fds = appendReceived(fds);
        VhostUserHeader h = VhostUserHeader.decode(VhostUserMessage.wrap(head));
        String what = VhostUserRequest.describe(h.request());
        if (h.version() != VhostUserHeader.VERSION) {
            throw new ProtocolException(what + ": header flags 0x" + Integer.toHexString(h.flags()) + " carry version " + h.version()
                    + ", expected " + VhostUserHeader.VERSION);
        }
        if (h.isReply()) {
            throw new ProtocolException(what + ": header flags 0x" + Integer.toHexString(h.flags()) + " have the REPLY flag on a request");
        }
        if ((h.flags() & ~VhostUserHeader.KNOWN_FLAGS) != 0) {
            throw new ProtocolException(what + ": header flags 0x" + Integer.toHexString(h.flags()) + " have unknown bits 0x"
                    + Integer.toHexString(h.flags() & ~VhostUserHeader.KNOWN_FLAGS));
        }
        if (Integer.compareUnsigned(h.size(), VhostUserHeader.MAX_PAYLOAD_SIZE) > 0) {
            throw new ProtocolException(what + ": payload size " + Integer.toUnsignedString(h.size()) + " exceeds the maximum "
                    + VhostUserHeader.MAX_PAYLOAD_SIZE);
        }
        byte[] body = new byte[h.size()];
        if (body.length > 0 && !readFully(body, what + "'s " + body.length + "-byte payload")) {
            throw new ProtocolException(what + ": connection closed after the header, before the " + body.length + "-byte payload");
        }
        fds = appendReceived(fds);
        if (fds.length > MAX_FDS_PER_MESSAGE) {
            throw new ProtocolException(what + ": carries " + fds.length + " file descriptors, at most " + MAX_FDS_PER_MESSAGE);
        }
        return new FrontendMessage(h, VhostUserRequest.fromCode(h.request()), VhostUserMessage.wrap(body), fds);
    }

    private int[] appendReceived(int[] fds) throws IOException {
        FileDescriptor[] got = socket.getReceivedFileDescriptors();
        if (got == null || got.length == 0) {
            return fds;
        }
        int[] all = Arrays.copyOf(fds, fds.length + got.length);
        for (int i = 0; i < got.length; i++) {
            try {
                all[fds.length + i] = FileDescriptorCast.using(got[i]).as(Integer.class);
            } catch (IOException e) {
                all[fds.length + i] = -1;
            }
        }
        return all;
    }

    private boolean readFully(byte[] buf, String what) throws IOException, ProtocolException {
        int off = 0;
        while (off < buf.length) {
            int n;
            try {
                n = in.read(buf, off, buf.length - off);
            } catch (SocketTimeoutException e) {
                // the read timeout only lets this thread look at the abort flag; then it reads on
                if (aborted) {
                    throw new IOException("connection aborted");
                }
                continue;
            }
            if (n < 0) {
                if (off == 0) {
                    return false; // the caller decides whether that is a clean end
                }
                throw new ProtocolException("connection closed in the middle of " + what + " (" + off + " of " + buf.length + " bytes)");
            }
            off += n;
        }
        return true;
    }

    /**
     * Sends the reply to {@code msg}: version 1, REPLY flag, its request code, unless the fault
     * injector spoils it.
     */
    void reply(FrontendMessage msg, VhostUserPayload payload, int... fds) throws IOException {
        ByteBuffer buf = VhostUserMessage.buffer(payload == null ? 0 : payload.size());
        if (payload != null) {
            payload.encode(buf);
        }
        send(msg, buf.array(), fds);
    }

    /** Sends a reply whose payload is raw bytes (an empty GET_CONFIG refusal). */
    void replyRaw(FrontendMessage msg, byte[] payload) throws IOException {
        send(msg, payload, new int[0]);
    }

    /** Sends the REPLY_ACK answer: u64 0 for success, 1 for failure. */
    void ack(FrontendMessage msg, boolean ok) throws IOException {
        ReplyFault f = faults.takeReplyFault(msg.request());
        if (f == ReplyFault.NACK) {
            LOG.warn("{}: injected fault: {} answered with REPLY_ACK failure", name, msg.name());
            sendRaw(msg.header().request(), VhostUserHeader.VERSION | VhostUserHeader.FLAG_REPLY, u64(1), new int[0]);
            return;
        }
        if (f != null) {
            apply(msg, f, u64(ok ? 0 : 1), new int[0]);
            return;
        }
        sendRaw(msg.header().request(), VhostUserHeader.VERSION | VhostUserHeader.FLAG_REPLY, u64(ok ? 0 : 1), new int[0]);
    }

    private static byte[] u64(long v) {
        ByteBuffer b = VhostUserMessage.buffer(VhostUserU64.SIZE);
        b.putLong(v);
        return b.array();
    }

    private void send(FrontendMessage msg, byte[] payload, int[] fds) throws IOException {
        ReplyFault f = faults.takeReplyFault(msg.request());
        if (f != null && f != ReplyFault.NACK) {
            apply(msg, f, payload, fds);
            return;
        }
        sendRaw(msg.header().request(), VhostUserHeader.VERSION | VhostUserHeader.FLAG_REPLY, payload, fds);
    }

    private void apply(FrontendMessage msg, ReplyFault f, byte[] payload, int[] fds) throws IOException {
        LOG.warn("{}: injected fault: reply to {} is {}", name, msg.name(), f);
        int code = msg.header().request();
        int flags = VhostUserHeader.VERSION | VhostUserHeader.FLAG_REPLY;
        switch (f) {
            case WRONG_REQUEST_CODE -> code = code + 1;
            case WRONG_SIZE -> payload = Arrays.copyOf(payload, payload.length + 4);
            case NO_REPLY_FLAG -> flags = VhostUserHeader.VERSION;
            case BAD_VERSION -> flags = 2 | VhostUserHeader.FLAG_REPLY;
            case MISSING_FD -> fds = new int[0];
            case NO_REPLY -> {
                return;
            }
            case NACK -> {
                // only meaningful for acks, handled there
            }
        }
        sendRaw(code, flags, payload, fds);
    }

    private void sendRaw(int code, int flags, byte[] payload, int[] fds) throws IOException {
        ByteBuffer buf = VhostUserMessage.buffer(VhostUserHeader.SIZE + payload.length);
        new VhostUserHeader(code, flags, payload.length).encode(buf);
        buf.put(payload);
        if (fds.length > 0) {
            FileDescriptor[] wrapped = new FileDescriptor[fds.length];
            for (int i = 0; i < fds.length; i++) {
                wrapped[i] = FileDescriptorCast.unsafeUsing(fds[i]).getFileDescriptor();
            }
            socket.setOutboundFileDescriptors(wrapped);
        }
        out.write(buf.array());
        out.flush();
        if (LOG.isDebugEnabled()) {
            LOG.debug("{}: <- reply {} size={}{}", name, VhostUserRequest.describe(code), payload.length, fds.length > 0 ? " fds=" + fds.length : "");
        }
    }

    /**
     * Ends the connection from another thread: the reading thread notices within
     * {@link #ABORT_POLL_MILLIS} and cleans up. The socket (and the fds it received) is closed by
     * {@link #close} on that thread only, so an fd in use there cannot vanish under it. (junixsocket
     * refuses shutdownInput on an accepted socket, and closing an fd does not wake a blocked read.)
     */
    void shutdown() {
        aborted = true;
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException e) {
            LOG.debug("{}: close: {}", name, e.getMessage());
        }
    }
}
