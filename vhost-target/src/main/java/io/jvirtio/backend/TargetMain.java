package io.jvirtio.backend;

import io.jvirtio.backend.ring.QueueMode;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.vhostuser.VhostUserProtocolFeature;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The Java target as a program:
 *
 * <pre>
 * TargetMain [-m CPUMASK] (--socket PATH | --connect PATH) [--name NAME] --TYPE SPEC  [ ...more devices ]
 *   -m, --cpumask M  CPUs for the queue threads (0x3 or [0,1]); their I/O queues then poll, pinned round-robin
 *   --socket PATH    listen on PATH (server mode, the default of vhost-user back-ends)
 *   --connect PATH   connect to a front-end listening on PATH (client mode)
 *   --blk SPEC       ram:SIZE|file:PATH[,size=SIZE][,bs=512|4096][,ro][,queues=N][,discard=on|off]...
 *   transport options inside any SPEC: qsize=N (largest ring), poll | kick (queue mode; default poll
 *     with a CPU mask, else kick), poll-idle=DURATION|never (POLL: spin this long without work before
 *     sleeping on the kick, default 1ms), cpumask=M (this device's CPUs, 0x3 or 0+1), memslots=N, proto-off=NAME+NAME (e.g. REPLY_ACK+CONFIG), features-off=NAME+NAME
 *     (EVENT_IDX, INDIRECT_DESC, PROTOCOL_FEATURES)
 * </pre>
 *
 * A socket option and a device option make one device; repeat the pair for more; each device needs
 * its own {@code --socket} path. Runs until SIGTERM/SIGINT, then closes every device. Exit status 2
 * on a usage error, 1 when a device cannot start (e.g. its socket is served by a live listener);
 * then the devices already started are closed again.
 */
public final class TargetMain {
    private TargetMain() {
    }

    /** A device as the command line describes it. */
    record Entry(String name, Path socket, boolean client, String type, String spec) {
    }

    /** Starts the devices the arguments describe and serves until the process is told to stop. */
    public static void main(String[] args) throws InterruptedException {
        int status = run(args, System.out, System.err);
        if (status != 0) {
            System.exit(status);
        }
    }

    /**
     * Starts the devices the arguments describe and serves until the process is told to stop
     * (SIGTERM/SIGINT); returns at once when they cannot all start, after closing those that did.
     *
     * @param out where the usage goes when asked for
     * @param err where errors go
     * @return the exit status: 0 after serving, 1 when a device cannot start, 2 on a usage error
     */
    public static int run(String[] args, PrintStream out, PrintStream err) throws InterruptedException {
        return run("TargetMain", args, out, err);
    }

    /**
     * {@link #run(String[], PrintStream, PrintStream)} for a program of another name (the
     * {@code jvirtio target} command): the usage and the errors name {@code program}, and a usage
     * error points at {@code program --help} instead of printing the whole usage.
     *
     * @param program how the user invoked the target, e.g. {@code jvirtio target}
     */
    public static int run(String program, String[] args, PrintStream out, PrintStream err) throws InterruptedException {
        boolean own = program.equals("TargetMain");
        List<Entry> entries;
        try {
            entries = parse(args);
        } catch (UsageException e) {
            if (own) {
                err.println("error: " + e.getMessage());
                usage(err, program);
            } else {
                err.println(program + ": " + e.getMessage());
                err.println("see '" + program + " --help'");
            }
            return 2;
        }
        if (entries.isEmpty()) {
            usage(out, program);
            return own ? 0 : 2;
        }
        TargetServer server = new TargetServer();
        try {
            for (Entry e : entries) {
                server.start(builder(e));
            }
        } catch (RuntimeException ex) {
            err.println((own ? "error" : program) + ": " + ex.getMessage());
            // nothing stays half-started: the devices that did start stop and remove their sockets
            server.close();
            return ex instanceof IllegalArgumentException ? 2 : 1;
        }
        for (Entry e : entries) {
            out.println("serving " + e.name() + " (" + e.type() + ") " + (e.client() ? "connected to " : "on ") + e.socket());
        }
        out.println("stop with Ctrl-C or SIGTERM");
        out.flush();
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "jvirtio-target-shutdown"));
        server.awaitClose();
        return 0;
    }

    /** Thrown on a bad command line. */
    static final class UsageException extends Exception {
        UsageException(String message) {
            super(message);
        }
    }

    /**
     * Parses the command line into devices.
     *
     * @throws UsageException naming the bad argument
     */
    static List<Entry> parse(String[] args) throws UsageException {
        List<Entry> out = new ArrayList<>();
        String cpumask = null;
        String name = null;
        Path socket = null;
        boolean client = false;
        String type = null;
        String spec = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--help") || a.equals("-h")) {
                return List.of();
            }
            if (!a.startsWith("--") && !a.equals("-m")) {
                throw new UsageException("unexpected argument " + a);
            }
            if (i + 1 >= args.length) {
                throw new UsageException(a + " needs a value");
            }
            String v = args[++i];
            switch (a) {
                case "-m", "--cpumask" -> {
                    if (cpumask != null) {
                        throw new UsageException(a + " given twice");
                    }
                    try {
                        cpumask = CpuMask.toHex(CpuMask.parse(v));
                    } catch (IllegalArgumentException e) {
                        throw new UsageException(a + ": " + e.getMessage());
                    }
                }
                case "--socket", "--connect" -> {
                    if (socket != null) {
                        out.add(complete(out.size(), name, socket, client, type, spec));
                        name = null;
                        type = null;
                        spec = null;
                    }
                    socket = Path.of(v);
                    client = a.equals("--connect");
                }
                case "--name" -> {
                    if (name != null) {
                        throw new UsageException("--name given twice for one device");
                    }
                    name = v;
                }
                default -> {
                    String t = a.substring(2);
                    if (DeviceTypes.find(t) == null) {
                        throw new UsageException("unknown option " + a + " (device types: " + typeNames() + ")");
                    }
                    if (type != null) {
                        if (socket == null) {
                            throw new UsageException("--" + type + " " + spec + " has no --socket or --connect");
                        }
                        out.add(complete(out.size(), name, socket, client, type, spec));
                        name = null;
                        socket = null;
                    }
                    type = t;
                    spec = v;
                }
            }
        }
        if (socket != null || type != null) {
            out.add(complete(out.size(), name, socket, client, type, spec));
        }
        checkDistinctSockets(out);
        if (cpumask != null) {
            // the global mask is every device's unless its spec names its own
            List<Entry> withMask = new ArrayList<>();
            for (Entry e : out) {
                boolean own = DeviceSpec.parse(e.spec()).has("cpumask");
                withMask.add(own ? e : new Entry(e.name(), e.socket(), e.client(), e.type(), e.spec() + ",cpumask=" + cpumask));
            }
            out = withMask;
        }
        return out;
    }

    /**
     * Refuses a socket path that a listening device shares with another device, before anything
     * binds: the second would otherwise find the first one listening and fail half-way, or a
     * device would connect to its own sibling. Two {@code --connect} devices may name the same path
     * (nothing is created or removed there).
     */
    private static void checkDistinctSockets(List<Entry> entries) throws UsageException {
        Map<Path, Entry> seen = new HashMap<>();
        for (Entry e : entries) {
            Path key = e.socket().toAbsolutePath().normalize();
            Entry before = seen.putIfAbsent(key, e);
            if (before != null && (!before.client() || !e.client())) {
                throw new UsageException("socket " + e.socket() + " is given to two devices (" + before.name() + " and " + e.name()
                        + "); each device needs its own socket path");
            }
        }
    }

    private static Entry complete(int index, String name, Path socket, boolean client, String type, String spec) throws UsageException {
        if (socket == null) {
            throw new UsageException("--" + type + " " + spec + " has no --socket or --connect");
        }
        if (type == null) {
            throw new UsageException((client ? "--connect " : "--socket ") + socket + " has no device (e.g. --blk ram:64M)");
        }
        return new Entry(name != null ? name : type + index, socket, client, type, spec);
    }

    /**
     * Opens the device of an entry and prepares its builder: transport options are taken out of
     * the spec, the rest goes to the device type.
     */
    static VhostUserTarget.Builder builder(Entry e) {
        DeviceSpec spec = DeviceSpec.parse(e.spec());
        TargetOptions.Builder t = TargetOptions.builder();
        t.maxQueueSize(spec.takeInt("qsize", TargetOptions.DEFAULT_MAX_QUEUE_SIZE));
        String cpumask = spec.take("cpumask", null);
        if (cpumask != null) {
            t.cpus(CpuMask.requireAllowed(CpuMask.parse(cpumask), "device spec " + e.spec()));
        }
        boolean poll = spec.takeFlag("poll", false);
        boolean kick = spec.takeFlag("kick", false);
        if (poll && kick) {
            throw new IllegalArgumentException("device spec " + e.spec() + ": poll and kick are two queue modes; give one");
        }
        if (poll || kick) {
            t.queueMode(poll ? QueueMode.POLL : QueueMode.KICK);
        }
        String idle = spec.take("poll-idle", null);
        if (idle != null) {
            t.pollIdle(pollIdle(idle, e.spec()));
        }
        t.maxMemSlots(spec.takeInt("memslots", TargetOptions.DEFAULT_MAX_MEM_SLOTS));
        String protoOff = spec.take("proto-off", null);
        if (protoOff != null) {
            for (String n : protoOff.split("\\+")) {
                t.protocolFeature(protocolFeature(n, e.spec()), false);
            }
        }
        String featOff = spec.take("features-off", null);
        if (featOff != null) {
            for (String n : featOff.split("\\+")) {
                t.hideFeature(featureBit(n, e.spec()));
            }
        }
        TargetOptions options = t.build();
        DeviceType.Opened opened = DeviceTypes.find(e.type()).open(e.name(), spec.remainingText());
        VhostUserTarget.Builder b = VhostUserTarget.builder().name(e.name()).model(opened.model()).options(options);
        b = e.client() ? b.connectTo(e.socket()) : b.socket(e.socket());
        opened.resources().forEach(b::closeOnExit);
        return b;
    }

    /** @return {@code never} as ZERO (spin for ever), or a duration with unit ns, us, ms or s */
    static Duration pollIdle(String v, String spec) {
        String t = v.trim().toLowerCase(Locale.ROOT);
        if (t.equals("never")) {
            return Duration.ZERO;
        }
        int unit = 0;
        while (unit < t.length() && Character.isDigit(t.charAt(unit))) {
            unit++;
        }
        long n = unit == 0 || unit > 12 ? -1 : Long.parseLong(t.substring(0, unit));
        Duration d = switch (t.substring(unit)) {
            case "ns" -> n < 0 ? null : Duration.ofNanos(n);
            case "us" -> n < 0 ? null : Duration.ofNanos(n * 1_000);
            case "ms" -> n < 0 ? null : Duration.ofMillis(n);
            case "s" -> n < 0 ? null : Duration.ofSeconds(n);
            default -> null;
        };
        if (d == null || d.isZero()) {
            throw new IllegalArgumentException("device spec " + spec + ": poll-idle=" + v + " is not a positive duration (e.g. 1ms, 500us, 2s) or never");
        }
        return d;
    }

    private static int protocolFeature(String n, String spec) {
        String want = n.trim().toUpperCase(Locale.ROOT);
        for (int i = 0; i < 64; i++) {
            if (VhostUserProtocolFeature.name(i).equals(want)) {
                return i;
            }
        }
        throw new IllegalArgumentException("device spec " + spec + ": proto-off: unknown protocol feature " + n
                + " (e.g. MQ, REPLY_ACK, CONFIG, STATUS, CONFIGURE_MEM_SLOTS, INFLIGHT_SHMFD, RESET_DEVICE)");
    }

    private static int featureBit(String n, String spec) {
        return switch (n.trim().toUpperCase(Locale.ROOT)) {
            case "EVENT_IDX" -> VirtioFeatures.VIRTIO_RING_F_EVENT_IDX;
            case "INDIRECT_DESC" -> VirtioFeatures.VIRTIO_RING_F_INDIRECT_DESC;
            case "PROTOCOL_FEATURES" -> VirtioFeatures.VHOST_USER_F_PROTOCOL_FEATURES;
            case "RING_PACKED" -> VirtioFeatures.VIRTIO_F_RING_PACKED;
            default -> throw new IllegalArgumentException("device spec " + spec + ": features-off: unknown feature " + n
                    + " (EVENT_IDX, INDIRECT_DESC, PROTOCOL_FEATURES, RING_PACKED)");
        };
    }

    private static String typeNames() {
        List<String> names = new ArrayList<>();
        for (DeviceType t : DeviceTypes.all()) {
            names.add("--" + t.name());
        }
        return String.join(", ", names);
    }

    static void usage(PrintStream out, String program) {
        out.println("usage: " + program + " [-m CPUMASK] (--socket PATH | --connect PATH) [--name NAME] --TYPE SPEC [...more devices]");
        out.println("  -m, --cpumask M  CPUs for the queue threads (0x3 or [0,1]): I/O queues poll, pinned round-robin");
        for (DeviceType t : DeviceTypes.all()) {
            out.println("  --" + t.name() + " " + t.usage());
        }
        out.println("  transport options in any SPEC: qsize=N, poll|kick, poll-idle=DURATION|never, cpumask=M, memslots=N,");
        out.println("    proto-off=NAME+NAME, features-off=NAME+NAME");
        out.println("example: " + program + " --socket /tmp/blk0.sock --blk ram:64M,bs=4096,queues=2 --socket /tmp/blk1.sock --blk file:/var/disk.img");
    }
}
