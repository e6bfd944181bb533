package io.jvirtio.core.ring;

import io.jvirtio.spec.VirtioException;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Records completions and failures, in order. */
final class RecordingSink implements UsedSink {
    final List<Object> completed = new ArrayList<>();
    final List<Integer> lengths = new ArrayList<>();
    final Map<Object, VirtioException> failed = new LinkedHashMap<>();
    private final Set<Object> delivered = new HashSet<>();

    @Override
    public void onUsed(Object cookie, int len) {
        if (!delivered.add(cookie)) {
            throw new AssertionError("cookie " + cookie + " delivered twice");
        }
        completed.add(cookie);
        lengths.add(len);
    }

    @Override
    public void onError(Object cookie, VirtioException error) {
        if (!delivered.add(cookie)) {
            throw new AssertionError("cookie " + cookie + " delivered twice");
        }
        failed.put(cookie, error);
    }

    void clear() {
        completed.clear();
        lengths.clear();
        failed.clear();
        delivered.clear();
    }
}
