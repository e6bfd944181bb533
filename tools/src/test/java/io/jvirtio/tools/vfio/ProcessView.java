package io.jvirtio.tools.vfio;

import java.util.OptionalInt;
import java.util.OptionalLong;

/**
 * What this process shows of a transport's kernel state, for the memory scenarios
 * ({@link MemoryScenarios}): the memory pinned for DMA, the mappings of device files (BARs), the
 * mappings of a memory region's memfd. Each is empty where the transport has no such state
 * ({@link #NONE}: vhost-user, whose back-end maps the memory itself).
 */
interface ProcessView {
    /** A transport that pins nothing and maps no device: every answer is empty. */
    ProcessView NONE = new ProcessView() {
        @Override
        public OptionalLong pinnedBytes() {
            return OptionalLong.empty();
        }

        @Override
        public OptionalInt deviceMappings() {
            return OptionalInt.empty();
        }

        @Override
        public OptionalInt memfdMappings(String memfdName) {
            return OptionalInt.empty();
        }
    };

    /** @return the bytes this process has pinned for DMA (VFIO type1 accounts them in {@code locked_vm}) */
    OptionalLong pinnedBytes();

    /** @return how many mappings of device files (mmapped BARs) the process has */
    OptionalInt deviceMappings();

    /** @return how many mappings of the memfd named {@code memfdName} the process has */
    OptionalInt memfdMappings(String memfdName);
}
