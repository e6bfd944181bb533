package io.jvirtio.conformance.scale;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/** What this process holds, from /proc/self: open fds by kind, resident memory, memfd mappings. */
final class ProcessFigures {
    private static final Path FDS = Path.of("/proc/self/fd");
    private static final Path STATUS = Path.of("/proc/self/status");
    private static final Path MAPS = Path.of("/proc/self/maps");

    private ProcessFigures() {
    }

    /** @return open fds by kind (socket, eventfd, memfd, other), with a "total" entry */
    static Map<String, Integer> fds() {
        Map<String, Integer> kinds = new TreeMap<>();
        try (Stream<Path> s = Files.list(FDS)) {
            for (Path fd : s.toList()) {
                String target;
                try {
                    target = Files.readSymbolicLink(fd).toString();
                } catch (IOException e) {
                    continue; // closed meanwhile (the listing's own fd, a target thread's)
                }
                kinds.merge(kind(target), 1, Integer::sum);
                kinds.merge("total", 1, Integer::sum);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return kinds;
    }

    /** @return the open Unix sockets' paths (from /proc/net/unix; "(unnamed)" for a connected peer's end), for a failure message */
    static List<String> unixSockets() {
        Map<String, String> paths = new TreeMap<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/net/unix"))) {
                String[] f = line.trim().split("\\s+");
                if (f.length >= 7 && !f[0].equals("Num")) {
                    paths.put(f[6], f.length > 7 ? f[7] + " (state " + f[5] + ")" : "(unnamed, state " + f[5] + ")");
                }
            }
            List<String> out = new java.util.ArrayList<>();
            try (Stream<Path> s = Files.list(FDS)) {
                for (Path fd : s.toList()) {
                    try {
                        String t = Files.readSymbolicLink(fd).toString();
                        if (t.startsWith("socket:[")) {
                            String inode = t.substring(8, t.length() - 1);
                            out.add(fd.getFileName() + " -> " + paths.getOrDefault(inode, "not unix, inode " + inode));
                        }
                    } catch (IOException e) {
                        // closed meanwhile
                    }
                }
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String kind(String target) {
        if (target.startsWith("socket:")) {
            return "socket";
        }
        if (target.equals("anon_inode:[eventfd]")) {
            return "eventfd";
        }
        if (target.startsWith("/memfd:")) {
            return "memfd";
        }
        return "other";
    }

    /** @return VmRSS, RssAnon, RssShmem in KiB and the thread count (Threads), from /proc/self/status */
    static Map<String, Long> status() {
        Map<String, Long> m = new TreeMap<>();
        try {
            for (String line : Files.readAllLines(STATUS)) {
                for (String key : List.of("VmRSS", "RssAnon", "RssShmem", "Threads")) {
                    if (line.startsWith(key + ":")) {
                        m.put(key, Long.parseLong(line.substring(key.length() + 1).replace("kB", "").trim()));
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return m;
    }

    /**
     * @return {mappings, distinct memfds} of memfd-backed mappings (the front-end's regions and, the
     *         target being in this process, its mappings of the same fds)
     */
    static int[] memfdMappings() {
        int mappings = 0;
        Set<String> inodes = new HashSet<>();
        try {
            for (String line : Files.readAllLines(MAPS)) {
                if (line.contains("/memfd:")) {
                    mappings++;
                    String[] f = line.trim().split("\\s+");
                    inodes.add(f[3] + ":" + f[4]);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new int[] {mappings, inodes.size()};
    }
}
