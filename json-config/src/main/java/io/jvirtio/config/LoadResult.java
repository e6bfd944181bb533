package io.jvirtio.config;

import java.util.List;

/**
 * What a successful load did.
 *
 * @param attachedControllers controllers this load attached that are still attached, in order
 * @param bdevs               their bdevs, in order
 * @param detachedControllers controllers this load detached, in order
 * @param skipped             entries skipped (with {@link LoadOptions#skipUnsupportedMethods()})
 */
public record LoadResult(List<String> attachedControllers, List<String> bdevs, List<String> detachedControllers,
                         List<Skipped> skipped) {
    /**
     * An entry that was not carried out.
     *
     * @param path   its JSON path, e.g. {@code subsystems[4].config[0]}
     * @param method its method
     * @param reason why
     */
    public record Skipped(String path, String method, String reason) {
    }

    /** Copies the lists. */
    public LoadResult {
        attachedControllers = List.copyOf(attachedControllers);
        bdevs = List.copyOf(bdevs);
        detachedControllers = List.copyOf(detachedControllers);
        skipped = List.copyOf(skipped);
    }
}
