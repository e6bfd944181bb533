package io.jvirtio.conformance.containers;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Makes sure enough 2 MiB hugepages are free before an SPDK target starts: SPDK's vhost needs them
 * for its own memory, and jvirtio needs them for front-end memory SPDK can map (SPDK's target
 * crashes on 4 KiB-page memfd memory; docs/decisions.md). Reserves more when it may (root), and
 * says which it did.
 */
public final class HugePages {
    private static final Logger LOG = LoggerFactory.getLogger(HugePages.class);
    private static final Path NR_HUGEPAGES = Path.of("/proc/sys/vm/nr_hugepages");
    private static final Path MEMINFO = Path.of("/proc/meminfo");
    private static final String FREE_FIELD = "HugePages_Free:";
    private static final Path MOUNTS = Path.of("/proc/mounts");
    /** Where DPDK looks for a hugetlbfs, and what the SPDK container gets bind-mounted. */
    public static final Path HUGETLBFS = Path.of("/dev/hugepages");

    private HugePages() {
    }

    /**
     * Ensures {@code pages} free 2 MiB hugepages, reserving more when there are fewer.
     *
     * @param pages how many the caller's targets and initiators need together
     * @param who   what they are for, for the message
     */
    public static synchronized void ensureFree(int pages, String who) {
        int total = read(NR_HUGEPAGES);
        int free = freePages();
        if (free >= pages) {
            LOG.info("hugepages: {} reserved, {} free: enough for {} ({} needed)", total, free, who, pages);
            return;
        }
        int want = total + (pages - free);
        try {
            Files.writeString(NR_HUGEPAGES, Integer.toString(want));
        } catch (IOException e) {
            ContainerAvailability.unavailable(who + " needs " + pages + " free 2 MiB hugepages, " + free + " are free of "
                    + total + ", and " + NR_HUGEPAGES + " cannot be raised to " + want + " (" + e.getMessage()
                    + "): run echo " + want + " > " + NR_HUGEPAGES + " as root");
        }
        int nowFree = freePages();
        if (nowFree < pages) {
            ContainerAvailability.unavailable(who + " needs " + pages + " free 2 MiB hugepages; after asking for " + want
                    + " in " + NR_HUGEPAGES + " the kernel has " + read(NR_HUGEPAGES) + " with " + nowFree + " free");
        }
        LOG.info("hugepages: reserved {} more ({} in all, {} free) for {}", want - total, read(NR_HUGEPAGES), nowFree, who);
    }

    /**
     * Makes sure a hugetlbfs is mounted at {@code /dev/hugepages}, which SPDK's container gets
     * bind-mounted (DPDK's EAL finds its hugepages through it; jvirtio itself needs none, it uses
     * memfd_create with MFD_HUGETLB). Mounts one when it may (root), and says so.
     */
    public static synchronized void ensureHugetlbfs() {
        if (hugetlbfsMounted()) {
            return;
        }
        String why;
        try {
            Files.createDirectories(HUGETLBFS);
            Process p = new ProcessBuilder("mount", "-t", "hugetlbfs", "nodev", HUGETLBFS.toString()).redirectErrorStream(true).start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes()).strip();
            why = p.waitFor() == 0 ? out : "mount exited with " + p.exitValue() + ": " + out;
        } catch (IOException e) {
            why = e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            why = "interrupted";
        }
        if (!hugetlbfsMounted()) {
            ContainerAvailability.unavailable("no hugetlbfs is mounted at " + HUGETLBFS + " for SPDK's container, and mounting one failed ("
                    + why + "): run mount -t hugetlbfs nodev " + HUGETLBFS + " as root");
        }
        LOG.info("hugepages: mounted a hugetlbfs at {} for SPDK's container", HUGETLBFS);
    }

    private static boolean hugetlbfsMounted() {
        try {
            for (String line : Files.readAllLines(MOUNTS)) {
                String[] f = line.split(" ");
                if (f.length > 2 && f[1].equals(HUGETLBFS.toString()) && f[2].equals("hugetlbfs")) {
                    return true;
                }
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }

    /** @return free 2 MiB hugepages, from /proc/meminfo */
    public static int freePages() {
        try {
            for (String line : Files.readAllLines(MEMINFO)) {
                if (line.startsWith(FREE_FIELD)) {
                    return Integer.parseInt(line.substring(FREE_FIELD.length()).trim());
                }
            }
            return 0;
        } catch (IOException e) {
            return 0;
        }
    }

    private static int read(Path p) {
        try {
            // readAllLines, not readString: procfs reports size 0 and readString returned only "5" of "512"
            return Integer.parseInt(Files.readAllLines(p).get(0).trim());
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
    }
}
