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
 * @param virtioId          the virtio device id the caller's driver drives (2 block, 8 SCSI), refused
 *                          by {@link VirtioPciTransport#open} when the function is another type (SPDK's
 *                          probe skips such a function); 0 accepts any type
 */
public record VirtioPciOptions(Duration resetTimeout, int generationRetries, int virtioId) {
    /** Default {@link #resetTimeout()}. */
    public static final Duration DEFAULT_RESET_TIMEOUT = Duration.ofSeconds(5);
    /** Default {@link #generationRetries()}. */
    public static final int DEFAULT_GENERATION_RETRIES = 1000;
    /** {@link #virtioId()} that accepts any device type. */
    public static final int ANY_DEVICE = 0;

    /** @throws IllegalArgumentException on a non-positive value */
    public VirtioPciOptions {
        Objects.requireNonNull(resetTimeout, "resetTimeout");
        if (resetTimeout.isNegative() || resetTimeout.isZero()) {
            throw new IllegalArgumentException("resetTimeout must be positive: " + resetTimeout);
        }
        if (generationRetries < 1) {
            throw new IllegalArgumentException("generationRetries must be at least 1: " + generationRetries);
        }
        if (virtioId < 0 || virtioId > 0x3f) {
            throw new IllegalArgumentException("virtioId must be 0 (any) or a virtio device id 1..0x3f: " + virtioId);
        }
    }

    /** Any device type. */
    public VirtioPciOptions(Duration resetTimeout, int generationRetries) {
        this(resetTimeout, generationRetries, ANY_DEVICE);
    }

    /** @return the defaults: any device type */
    public static VirtioPciOptions defaults() {
        return new VirtioPciOptions(DEFAULT_RESET_TIMEOUT, DEFAULT_GENERATION_RETRIES);
    }

    /** @return these options, accepting only virtio device type {@code id} (e.g. {@code VirtioPciSpec.VIRTIO_ID_BLOCK}) */
    public VirtioPciOptions withVirtioId(int id) {
        return new VirtioPciOptions(resetTimeout, generationRetries, id);
    }
}
