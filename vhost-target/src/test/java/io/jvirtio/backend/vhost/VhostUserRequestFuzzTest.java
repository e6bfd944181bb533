package io.jvirtio.backend.vhost;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jvirtio.backend.TargetOptions;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.blk.VirtioBlkModel;
import io.jvirtio.backend.device.VirtioDeviceModel;
import io.jvirtio.backend.fault.FaultInjector;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.spec.vhostuser.VhostUserHeader;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import io.jvirtio.sys.LinuxConstants;
import io.jvirtio.sys.Native;
import org.junit.jupiter.api.Timeout;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;

import java.io.File;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Fuzz target 1b: every request a front-end can send to the Java target. The input is a memory
 * image and a stream of messages; the harness writes each message in one call with the fds its
 * request carries (SET_MEM_TABLE: one memfd per region its nregions field names; ADD_MEM_REG and
 * SET_INFLIGHT_FD: one memfd; SET_VRING_KICK/CALL/ERR: one eventfd unless the NOFD bit is set),
 * every memfd 64 KiB holding the memory image, so random memory tables and ring addresses land on
 * real mappings and queue workers read rings the fuzzer wrote. After the last message the kick
 * eventfds are signalled and the front-end end is shut down; {@link VhostUserSession#run} runs in
 * its own thread until EOF (or the first bad message) while the replies are drained.
 *
 * <p>Input layout: bytes 0..1 = memory image length L (u16 LE, at most 64 KiB), L bytes of image,
 * then messages (12-byte header, then as many payload bytes as its size field says and the input
 * has).
 *
 * <p>Invariant: the session ends (timeout per execution) through a {@link ProtocolException} or
 * EOF, never through an unexpected runtime exception ("internal error") or a JVM crash (a SIGBUS
 * from a mapping past the end of its file), and leaves no file descriptor open, no mapping of the
 * front-end's memory and no queue worker thread behind.
 */
class VhostUserRequestFuzzTest {
    static {
        // millions of rejected inputs would each log an error; set before the loggers exist
        System.setProperty("org.slf4j.simpleLogger.log.io.jvirtio", "off");
    }

    private static final int MEMFD_SIZE = 64 << 10;
    private static final long NOFD = 0x100;
    private static final ScheduledExecutorService SCHEDULER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "fuzz-target-scheduler");
        t.setDaemon(true);
        return t;
    });
    private static AFUNIXServerSocket listener;
    /** {@code QueueWorker}'s thread names for the device "fuzz". */
    private static final String WORKER_PREFIX = "jvirtio-target-fuzz-q";

    @FuzzTest(maxDuration = "10m")
    @Timeout(20)
    void requests(byte[] data) throws Exception {
        if (data.length < 2) {
            return;
        }
        listener();
        Set<String> before = openFds();
        Context ctx = new Context();
        long workers;
        try {
            run(data, ctx);
        } finally {
            workers = workersAfter();
            if (workers == 0) {
                ctx.store.close(); // its native memory: unclosed, 1 MiB per execution piled up to GBs before a GC
            }
        }
        assertEquals(0, workers, "queue worker threads left after the session ended: " + threadNames());
        // a leak is an fd the execution opened and left open; the JVM may close unrelated ones meanwhile
        Set<String> left = openFds();
        left.removeAll(before);
        assertEquals(Set.of(), left, "file descriptors the execution opened and left open");
        assertEquals(0, guestMappings(), "mappings of the front-end's memfds left after the session ended");
    }

    /** @return the target's queue worker threads still alive, once ending ones had up to a second to end */
    private static long workersAfter() throws InterruptedException {
        long n = workers();
        for (int i = 0; i < 100 && n > 0; i++) {
            Thread.sleep(10);
            n = workers();
        }
        return n;
    }

    private static long workers() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith(WORKER_PREFIX)).count();
    }

    private static String threadNames() {
        return Thread.getAllStackTraces().keySet().stream().map(Thread::getName).filter(n -> n.startsWith(WORKER_PREFIX)).sorted()
                .toList().toString();
    }

    /** @return how many mappings of this harness's memfds the process still has */
    private static long guestMappings() throws IOException {
        try (Stream<String> maps = Files.lines(Path.of("/proc/self/maps"))) {
            return maps.filter(l -> l.contains("memfd:fuzz-guest")).count();
        }
    }

    private static void run(byte[] data, Context ctx) throws Exception {
        ByteBuffer in = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        int imageLength = Math.min(Short.toUnsignedInt(in.getShort()), Math.min(MEMFD_SIZE, in.remaining()));
        byte[] image = new byte[imageLength];
        in.get(image);
        List<Integer> owned = new ArrayList<>();
        List<Integer> kicks = new ArrayList<>();
        AFUNIXSocket frontend = AFUNIXSocket.newInstance();
        frontend.connect(listener.getLocalSocketAddress());
        Thread server = null;
        Thread drain = null;
        try (AFUNIXSocket fe = frontend) {
            VhostUserSession session = new VhostUserSession(ctx, listener.accept());
            // the session runs and the replies are drained while the messages are written: many small
            // messages fill the socket's buffer (each write is one skb) long before their bytes do
            server = Thread.ofPlatform().name("fuzz-session").start(session::run);
            InputStream replies = fe.getInputStream();
            // a platform thread: a virtual thread reading the socket makes junixsocket switch it to non-blocking
            // mode, and this (platform) thread's next write then parks in junixsocket's naive poller, which is
            // woken only by its timeout: the 20-30 s "under load" executions were that, not the target
            drain = Thread.ofPlatform().daemon().name("fuzz-drain").start(() -> drain(replies));
            OutputStream out = fe.getOutputStream();
            while (in.remaining() >= VhostUserHeader.SIZE) {
                int start = in.position();
                int code = in.getInt(start);
                int size = in.getInt(start + VhostUserHeader.SIZE_OFFSET);
                int payload = (int) Math.min(Integer.toUnsignedLong(size), in.remaining() - VhostUserHeader.SIZE);
                ByteBuffer body = in.slice(start + VhostUserHeader.SIZE, payload).order(ByteOrder.nativeOrder());
                int[] fds = fdsFor(VhostUserRequest.fromCode(code), body, image, owned, kicks);
                if (fds.length > 0) {
                    FileDescriptor[] wrapped = new FileDescriptor[fds.length];
                    for (int i = 0; i < fds.length; i++) {
                        wrapped[i] = FileDescriptorCast.unsafeUsing(fds[i]).getFileDescriptor();
                    }
                    fe.setOutboundFileDescriptors(wrapped);
                }
                out.write(data, start, VhostUserHeader.SIZE + payload);
                in.position(start + VhostUserHeader.SIZE + payload);
            }
            if (in.hasRemaining()) {
                out.write(data, in.position(), in.remaining());
            }
            out.flush();
            for (int k : kicks) {
                Native.eventfdWrite(k, 1);
            }
            fe.getChannel().shutdownOutput();
            server.join();
            drain.join();
        } catch (IOException e) {
            // the session closed the connection on a bad message while the rest was being written
            if (server != null) {
                server.join();
            }
            if (drain != null) {
                drain.join();
            }
        } finally {
            for (int fd : owned) {
                Native.closeQuietly(fd);
            }
        }
        for (String reason : ctx.failures) {
            if (reason.startsWith("internal error")) {
                fail("the session ended with an unexpected exception: " + reason);
            }
        }
    }

    private static void drain(InputStream replies) {
        byte[] sink = new byte[4096];
        try {
            while (replies.read(sink) >= 0) {
                // discard
            }
        } catch (IOException e) {
            // the connection ended
        }
    }

    private static int[] fdsFor(VhostUserRequest r, ByteBuffer body, byte[] image, List<Integer> owned, List<Integer> kicks) {
        if (r == null) {
            return new int[0];
        }
        return switch (r) {
            case SET_MEM_TABLE -> {
                int n = body.remaining() >= 4 ? Math.clamp(Integer.toUnsignedLong(body.getInt(0)), 0, 8) : 0;
                int[] fds = new int[n];
                for (int i = 0; i < n; i++) {
                    fds[i] = memfd(image, owned);
                }
                yield fds;
            }
            case ADD_MEM_REG, SET_INFLIGHT_FD -> new int[] {memfd(image, owned)};
            case SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR -> {
                if (body.remaining() >= 8 && (body.getLong(0) & NOFD) != 0) {
                    yield new int[0];
                }
                int fd = Native.eventfd(0, LinuxConstants.EFD_NONBLOCK);
                owned.add(fd);
                if (r == VhostUserRequest.SET_VRING_KICK) {
                    kicks.add(fd);
                }
                yield new int[] {fd};
            }
            default -> new int[0];
        };
    }

    private static int memfd(byte[] image, List<Integer> owned) {
        int fd = Native.memfdCreate("fuzz-guest", LinuxConstants.MFD_CLOEXEC);
        owned.add(fd);
        Native.ftruncate(fd, MEMFD_SIZE);
        if (image.length > 0) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment copy = arena.allocate(image.length);
                copy.copyFrom(MemorySegment.ofArray(image));
                Native.pwrite(fd, copy, image.length, 0);
            }
        }
        return fd;
    }

    /** @return every open fd as {@code number -> what it refers to} (socket and memfd names carry an inode) */
    private static Set<String> openFds() throws IOException {
        Set<String> open = new HashSet<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : (Iterable<Path>) fds::iterator) {
                try {
                    Path target = Files.readSymbolicLink(fd);
                    if (!target.toString().matches("/proc/\\d+/fd")) { // the listing's own directory fd
                        open.add(fd.getFileName() + " -> " + target);
                    }
                } catch (IOException e) {
                    // closed while listed (the directory stream's own fd, or one closing now)
                }
            }
        }
        return open;
    }

    private static synchronized void listener() throws IOException {
        if (listener == null) {
            Path dir = Files.createTempDirectory("jvirtio-fuzz");
            dir.toFile().deleteOnExit();
            File sock = dir.resolve("requests.sock").toFile();
            sock.deleteOnExit();
            listener = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(sock));
        }
    }

    /** One blk device over 1 MiB of RAM with two queues, the target's default options. */
    private static final class Context implements DeviceContext {
        final List<String> failures = new CopyOnWriteArrayList<>();
        final RamBlockStore store = new RamBlockStore(1 << 20, false);
        private final VirtioDeviceModel model = new VirtioBlkModel("fuzz", store, BlkModelOptions.builder().numQueues(2).build());
        private final FaultInjector faults = new FaultInjector("fuzz");

        @Override
        public String name() {
            return "fuzz";
        }

        @Override
        public VirtioDeviceModel model() {
            return model;
        }

        @Override
        public FaultInjector faults() {
            return faults;
        }

        @Override
        public TargetOptions options() {
            return TargetOptions.defaults();
        }

        @Override
        public ScheduledExecutorService scheduler() {
            return SCHEDULER;
        }

        @Override
        public void connectionFailed(String reason) {
            failures.add(reason);
        }
    }
}
