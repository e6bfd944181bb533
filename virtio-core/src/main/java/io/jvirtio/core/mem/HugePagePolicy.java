package io.jvirtio.core.mem;

/** How a {@link MemoryDomain} backs its regions. */
public enum HugePagePolicy {
    /** 2 MiB hugetlb pages when enough are free, plain memfd otherwise (with a warning naming the fix). */
    AUTO,
    /** hugetlb pages or fail: for SPDK targets, which crash on 4 KiB-page front-end memory. */
    REQUIRE,
    /** plain memfd (4 KiB pages) always. */
    NEVER
}
