package io.jvirtio.core;

import java.time.Duration;

/**
 * What a device does when its transport loses the peer, in the terms of SPDK's NVMe bdev
 * ({@code bdev_nvme_attach_controller}), checked by the same rules as SPDK's
 * {@code bdev_nvme_check_io_error_resiliency_params}.
 *
 * @param ctrlrLossTimeoutSec  how long to try to reconnect before the device is given up and its
 *                             bdevs go: 0 never reconnects (I/O fails at once; the default), -1
 *                             tries for ever
 * @param reconnectDelaySec    the longest pause between two attempts (attempts start at once and
 *                             back off from {@link #FIRST_RETRY} to this); non-zero when reconnecting
 * @param fastIoFailTimeoutSec how long I/O waits for the reconnect before it fails (new I/O is then
 *                             refused until the device is back); 0 waits until the device is given up
 */
public record ReconnectPolicy(int ctrlrLossTimeoutSec, int reconnectDelaySec, int fastIoFailTimeoutSec) {
    /** The first pause between attempts; it doubles up to {@link #reconnectDelaySec}. */
    public static final Duration FIRST_RETRY = Duration.ofMillis(10);

    /** No reconnect: SPDK's defaults (0, 0, 0). */
    public static final ReconnectPolicy NONE = new ReconnectPolicy(0, 0, 0);

    /**
     * @throws IllegalArgumentException naming the parameter and its value, as SPDK refuses them
     */
    public ReconnectPolicy {
        if (reconnectDelaySec < 0) {
            throw new IllegalArgumentException("reconnect_delay_sec " + reconnectDelaySec + " is negative");
        }
        if (fastIoFailTimeoutSec < 0) {
            throw new IllegalArgumentException("fast_io_fail_timeout_sec " + fastIoFailTimeoutSec + " is negative");
        }
        if (ctrlrLossTimeoutSec < -1) {
            throw new IllegalArgumentException("ctrlr_loss_timeout_sec " + ctrlrLossTimeoutSec + " can't be less than -1");
        }
        if (ctrlrLossTimeoutSec == 0) {
            if (reconnectDelaySec != 0 || fastIoFailTimeoutSec != 0) {
                throw new IllegalArgumentException("reconnect_delay_sec " + reconnectDelaySec + " and fast_io_fail_timeout_sec "
                        + fastIoFailTimeoutSec + " must both be 0 when ctrlr_loss_timeout_sec is 0 (no reconnect)");
            }
        } else {
            if (reconnectDelaySec == 0) {
                throw new IllegalArgumentException("reconnect_delay_sec can't be 0 when ctrlr_loss_timeout_sec is " + ctrlrLossTimeoutSec);
            }
            if (ctrlrLossTimeoutSec > 0 && reconnectDelaySec > ctrlrLossTimeoutSec) {
                throw new IllegalArgumentException("reconnect_delay_sec " + reconnectDelaySec + " can't be more than ctrlr_loss_timeout_sec "
                        + ctrlrLossTimeoutSec);
            }
            if (fastIoFailTimeoutSec != 0 && fastIoFailTimeoutSec < reconnectDelaySec) {
                throw new IllegalArgumentException("reconnect_delay_sec " + reconnectDelaySec + " can't be more than fast_io_fail_timeout_sec "
                        + fastIoFailTimeoutSec);
            }
            if (ctrlrLossTimeoutSec > 0 && fastIoFailTimeoutSec > ctrlrLossTimeoutSec) {
                throw new IllegalArgumentException("fast_io_fail_timeout_sec " + fastIoFailTimeoutSec + " can't be more than ctrlr_loss_timeout_sec "
                        + ctrlrLossTimeoutSec);
            }
        }
    }

    /** @return whether the device tries to reconnect at all */
    public boolean reconnects() {
        return ctrlrLossTimeoutSec != 0;
    }

    /** @return whether these are SPDK's defaults (save_config then writes none of the three) */
    public boolean isDefault() {
        return equals(NONE);
    }
}
