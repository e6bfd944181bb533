package io.jvirtio.config;

import io.jvirtio.bdev.Bdev;

import java.util.List;
import java.util.Objects;
import java.util.UUID;

/**
 * A bdev as the {@link BdevRegistry} knows it: the bdev, the uuid generated for it at attach (its
 * SPDK {@code uuid} and only alias, stable while it stays attached) and its controller's name.
 *
 * @param bdev       the bdev
 * @param uuid       its uuid
 * @param controller the name of the controller that exposes it
 */
public record AttachedBdev(Bdev bdev, UUID uuid, String controller) {
    /** @throws NullPointerException on a null component */
    public AttachedBdev {
        Objects.requireNonNull(bdev, "bdev");
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(controller, "controller");
    }

    /** @return the bdev name */
    public String name() {
        return bdev.name();
    }

    /** @return SPDK's {@code aliases}: the uuid */
    public List<String> aliases() {
        return List.of(uuid.toString());
    }

    /** @return whether {@code nameOrAlias} is this bdev's name or alias */
    public boolean isCalled(String nameOrAlias) {
        return bdev.name().equals(nameOrAlias) || uuid.toString().equalsIgnoreCase(nameOrAlias);
    }
}
