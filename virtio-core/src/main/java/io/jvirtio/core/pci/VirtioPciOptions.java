package io.jvirtio.core.pci;

import java.time.Duration;
import java.util.Objects;

/**
 * Settings of the virtio-pci transport.
 *
 * @param resetTimeout      how long a reset may take to read back status 0 (virtio 1.2 4.1.4.3.2:
 *                          the driver waits for it); SPDK reads once, the Linux driver waits
 * @param generationRetries how many times a device-config read is repeated while
 *                          {@code config_generation} keeps changing before it fails
 */
public record VirtioPciOptions(Duration resetTimeout, int generationRetries) {
    /** Default {@link #resetTimeout()}. */
    public static final Duration DEFAULT_RESET_TIMEOUT = Duration.ofSeconds(5);
    /** Default {@link #generationRetries()}. */
    public static final int DEFAULT_GENERATION_RETRIES = 1000;

    /** @throws IllegalArgumentException on a non-positive value */
    public VirtioPciOptions {
        Objects.requireNonNull(resetTimeout, "resetTimeout");
        if (resetTimeout.isNegative() || resetTimeout.isZero()) {
            throw new IllegalArgumentException("resetTimeout must be positive: " + resetTimeout);
        }
        if (generationRetries < 1) {
            throw new IllegalArgumentException("generationRetries must be at least 1: " + generationRetries);
        }
    }

    /** @return the defaults */
    public static VirtioPciOptions defaults() {
        return new VirtioPciOptions(DEFAULT_RESET_TIMEOUT, DEFAULT_GENERATION_RETRIES);
    }
}
