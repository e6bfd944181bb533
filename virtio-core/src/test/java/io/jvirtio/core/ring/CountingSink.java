package io.jvirtio.core.ring;

import io.jvirtio.spec.VirtioException;

/** Counts completions without allocating: usable inside an allocation measurement. */
final class CountingSink implements UsedSink {
    long used;
    long errors;
    long bytes;

    @Override
    public void onUsed(Object cookie, int len) {
        used++;
        bytes += len;
    }

    @Override
    public void onError(Object cookie, VirtioException error) {
        errors++;
    }
}
