package io.jvirtio.config;

import io.jvirtio.core.LinkListener;

import com.fasterxml.jackson.databind.JsonNode;
import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.IoStatistics;
import io.jvirtio.spec.VirtioException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

import static io.jvirtio.config.JsonObjectReader.quote;

/**
 * The attached virtio controllers and their bdevs: SPDK's bdev layer as far as virtio goes, with
 * the {@code bdev_virtio_attach_controller} / {@code bdev_virtio_detach_controller} operations and
 * the lookups behind {@code bdev_get_bdevs}. An embedding storage engine can use it directly, or
 * fill it from an SPDK JSON config file with {@link #load(Path)}.
 *
 * <p>Names: a controller name must not be in use by another controller or bdev, and every bdev
 * name must be free (SPDK refuses both with a bare "Invalid argument"; here the error names the
 * name and who holds it). Every bdev gets a random uuid at attach, its SPDK {@code uuid} and alias.
 *
 * <p>Thread-safe. Attach, detach and loads are serialised (a load holds the registry for its whole
 * duration, so its rollback is exact); lookups never block and see a consistent snapshot.
 * {@link #close()} detaches everything, newest first.
 */
public final class BdevRegistry implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(BdevRegistry.class);

    /** One attached controller and its bdevs. */
    private record Attached(Controller controller, List<AttachedBdev> bdevs) {
    }

    private final ControllerTypes types;
    private final Supplier<UUID> uuids;
    /** serialises every change; held across a whole load */
    private final ReentrantLock lock = new ReentrantLock();
    /** immutable snapshot, replaced under {@link #lock} */
    private volatile List<Attached> attached = List.of();
    private boolean closed;

    /** A registry for the controller types registered with {@link java.util.ServiceLoader} ({@link ControllerTypes#discover()}). */
    public BdevRegistry() {
        this(ControllerTypes.discover());
    }

    /** @param types the controller types it can attach */
    public BdevRegistry(ControllerTypes types) {
        this(types, UUID::randomUUID);
    }

    BdevRegistry(ControllerTypes types, Supplier<UUID> uuids) {
        this.types = Objects.requireNonNull(types, "types");
        this.uuids = Objects.requireNonNull(uuids, "uuids");
    }

    /** @return the controller types this registry attaches */
    public ControllerTypes controllerTypes() {
        return types;
    }

    // ------------------------------------------------------------------ attach / detach

    /**
     * Attaches a controller ({@code bdev_virtio_attach_controller}).
     *
     * @param params checked params
     * @return the names of its bdevs, as SPDK's RPC result lists them
     * @throws ConfigException naming the param at fault and its value (an unavailable dev_type, a
     *                         name in use, a socket nothing listens on, ...); nothing stays attached
     */
    public List<String> attachController(ControllerParams params) {
        return attach(params, JsonPath.root());
    }

    /**
     * Checks and attaches the params object of a {@code bdev_virtio_attach_controller} request.
     *
     * @param params the params object
     * @return the names of its bdevs
     * @throws ConfigException whose path is relative to {@code params} ({@code vq_size: 100 is not a power of two})
     */
    public List<String> attachController(JsonNode params) {
        return attach(ControllerParams.fromJson(params), JsonPath.root());
    }

    /**
     * Detaches a controller and its bdevs ({@code bdev_virtio_detach_controller}).
     *
     * @param name the controller name
     * @throws NoSuchDeviceException when no controller of that name is attached
     */
    public void detachController(String name) {
        detach(name, JsonPath.root());
    }

    /**
     * Checks what {@link #attach} will check before touching a device: a registered dev_type the
     * params suit. Used by the loader to refuse a bad file before it attaches anything.
     *
     * @param at where the params object is, for errors
     */
    void validate(ControllerParams params, JsonPath at) {
        try {
            types.require(params.devType()).validate(params);
        } catch (ConfigException e) {
            throw e.at(at);
        }
    }

    List<String> attach(ControllerParams params, JsonPath at) {
        Objects.requireNonNull(params, "params");
        lock.lock();
        try {
            ensureOpen();
            validate(params, at);
            ControllerType type = types.require(params.devType());
            checkNameFree(params.name(), at.field("name"));
            Controller controller;
            try {
                controller = type.attach(params);
            } catch (ConfigException e) {
                throw e.at(at);
            } catch (VirtioException e) {
                throw new ConfigException(at, "cannot attach " + params.name() + " (dev_type " + params.devType() + ", trtype "
                        + params.trtype().spdkName() + ", traddr " + quote(params.traddr()) + "): " + e.getMessage(), e);
            }
            Attached a;
            try {
                a = register(controller, params, at);
            } catch (RuntimeException e) {
                closeQuietly(controller, e);
                throw e;
            }
            List<Attached> next = new ArrayList<>(attached);
            next.add(a);
            attached = Collections.unmodifiableList(next);
            controller.device().ifPresent(d -> d.addLinkListener(new LinkListener() {
                @Override
                public void givenUp(String device, String reason) {
                    // off the reconnector's thread: closing the device waits for nothing it holds
                    Thread.ofPlatform().daemon().name("jvirtio-give-up-" + device).start(() -> removeGivenUp(controller, reason));
                }
            }));
            List<String> names = a.bdevs.stream().map(AttachedBdev::name).toList();
            LOG.info("attached {} controller {} ({} {}): bdevs {}", params.devType(), controller.name(), params.trtype().spdkName(),
                    params.traddr(), names);
            return names;
        } finally {
            lock.unlock();
        }
    }

    /** Checks what a type returned and gives its bdevs uuids. */
    private Attached register(Controller c, ControllerParams params, JsonPath at) {
        if (!params.name().equals(c.name())) {
            throw new IllegalStateException("controller type " + params.devType() + " attached " + quote(params.name())
                    + " as " + quote(c.name()));
        }
        List<? extends Bdev> bdevs = c.bdevs();
        if (bdevs == null || bdevs.isEmpty()) {
            throw new ConfigException(at, params.name() + " (dev_type " + params.devType() + ", traddr " + quote(params.traddr())
                    + ") exposes no bdev; nothing was attached");
        }
        Set<String> seen = new HashSet<>();
        List<AttachedBdev> entries = new ArrayList<>(bdevs.size());
        for (Bdev b : bdevs) {
            if (!seen.add(b.name())) {
                throw new ConfigException(at.field("name"), "controller " + quote(params.name()) + " exposes two bdevs named "
                        + quote(b.name()) + "; nothing was attached");
            }
            if (!b.name().equals(params.name())) {
                String holder = holderOf(b.name());
                if (holder != null) {
                    throw new ConfigException(at.field("name"), "controller " + quote(params.name()) + " exposes bdev "
                            + quote(b.name()) + ", a name already used by " + holder + "; nothing was attached");
                }
            }
            entries.add(new AttachedBdev(b, uuids.get(), params.name()));
        }
        return new Attached(c, List.copyOf(entries));
    }

    /** @return the controller whose name or one of whose bdevs' names or aliases is {@code name} */
    Optional<String> holderController(String name) {
        for (Attached a : attached) {
            if (a.controller.name().equals(name) || a.bdevs.stream().anyMatch(b -> b.isCalled(name))) {
                return Optional.of(a.controller.name());
            }
        }
        return Optional.empty();
    }

    /** @throws ConfigException at {@code at} when a controller or bdev already uses {@code name} */
    void checkNameFree(String name, JsonPath at) {
        String holder = holderOf(name);
        if (holder != null) {
            throw new ConfigException(at, quote(name) + " is already in use by " + holder
                    + "; detach it first or choose another name");
        }
    }

    /** @return who uses {@code name} as a controller name, bdev name or alias, or null */
    private String holderOf(String name) {
        for (Attached a : attached) {
            Controller c = a.controller;
            if (c.name().equals(name)) {
                return "the attached " + c.devType() + " controller " + describe(c);
            }
            for (AttachedBdev b : a.bdevs) {
                if (b.isCalled(name)) {
                    return "bdev " + b.name() + " (uuid " + b.uuid() + ") of controller " + describe(c);
                }
            }
        }
        return null;
    }

    private static String describe(Controller c) {
        try {
            ControllerParams p = c.configParams();
            return c.name() + " (trtype " + p.trtype().spdkName() + ", traddr " + quote(p.traddr()) + ")";
        } catch (RuntimeException e) {
            return c.name();
        }
    }

    void detach(String name, JsonPath at) {
        lock.lock();
        try {
            Attached a = find(name).orElseThrow(() -> new NoSuchDeviceException(at, "no controller named " + quote(name)
                    + " is attached (attached: " + namesOrNone(controllerNames()) + ")"));
            List<Attached> next = new ArrayList<>(attached);
            next.remove(a);
            attached = Collections.unmodifiableList(next);
            try {
                a.controller.close();
                LOG.info("detached controller {}", name);
            } catch (RuntimeException e) {
                // It is out of the registry either way; the failure is the transport's to report.
                LOG.warn("detached controller {}; closing it failed: {}", name, e.toString(), e);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * A controller whose device was given up (not back within ctrlr_loss_timeout_sec, or back as
     * another device) goes with its bdevs, as SPDK's NVMe bdev deletes a lost controller's bdevs.
     */
    private void removeGivenUp(Controller controller, String reason) {
        lock.lock();
        try {
            Optional<Attached> a = find(controller.name());
            if (a.isEmpty() || a.get().controller != controller) {
                return;
            }
            List<Attached> next = new ArrayList<>(attached);
            next.remove(a.get());
            attached = Collections.unmodifiableList(next);
            LOG.error("controller {} given up ({}); its bdevs {} are removed", controller.name(), reason,
                    a.get().bdevs.stream().map(AttachedBdev::name).toList());
        } finally {
            lock.unlock();
        }
        try {
            controller.close();
        } catch (RuntimeException e) {
            LOG.warn("closing given-up controller {}: {}", controller.name(), e.toString());
        }
    }

    private Optional<Attached> find(String controllerName) {
        for (Attached a : attached) {
            if (a.controller.name().equals(controllerName)) {
                return Optional.of(a);
            }
        }
        return Optional.empty();
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("the bdev registry is closed");
        }
    }

    /** Runs {@code body} holding the registry: no other attach, detach or load interleaves. */
    <T> T exclusive(Supplier<T> body) {
        lock.lock();
        try {
            ensureOpen();
            return body.get();
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------ loading

    /**
     * Loads an SPDK JSON config file ({@code spdk_tgt --json}'s format) with {@link LoadOptions#defaults()}.
     *
     * @see ConfigLoader#load(Path)
     */
    public LoadResult load(Path configFile) {
        return new ConfigLoader(this, LoadOptions.defaults()).load(configFile);
    }

    /**
     * Loads an SPDK JSON config file.
     *
     * @see ConfigLoader#load(Path)
     */
    public LoadResult load(Path configFile, LoadOptions options) {
        return new ConfigLoader(this, options).load(configFile);
    }

    // ------------------------------------------------------------------ lookups

    /** @return the attached controllers, oldest first */
    public List<Controller> controllers() {
        return attached.stream().map(Attached::controller).toList();
    }

    /** @return the attached controllers' names, oldest first */
    public List<String> controllerNames() {
        return attached.stream().map(a -> a.controller.name()).toList();
    }

    /** @return the controller called {@code name}, or empty */
    public Optional<Controller> findController(String name) {
        return find(name).map(Attached::controller);
    }

    /**
     * @return the controller called {@code name}
     * @throws NoSuchDeviceException naming it and the attached ones
     */
    public Controller controller(String name) {
        return findController(name).orElseThrow(() -> new NoSuchDeviceException(JsonPath.root(), "no controller named "
                + quote(name) + " is attached (attached: " + namesOrNone(controllerNames()) + ")"));
    }

    /** @return every bdev with its uuid and controller, in attach order (as {@code bdev_get_bdevs} lists them) */
    public List<AttachedBdev> attachedBdevs() {
        List<AttachedBdev> out = new ArrayList<>();
        for (Attached a : attached) {
            out.addAll(a.bdevs);
        }
        return Collections.unmodifiableList(out);
    }

    /** @return every bdev, in attach order */
    public List<Bdev> bdevs() {
        return attachedBdevs().stream().map(AttachedBdev::bdev).toList();
    }

    /**
     * @return each bdev's I/O statistics, in attach order (every channel summed, closed ones included;
     *         see {@link Bdev#ioStatistics()})
     */
    public List<IoStatistics> ioStatistics() {
        return bdevs().stream().map(Bdev::ioStatistics).toList();
    }

    /**
     * @param nameOrAlias a bdev name or uuid
     * @return that bdev's I/O statistics
     * @throws NoSuchDeviceException naming it and the attached bdevs
     */
    public IoStatistics ioStatistics(String nameOrAlias) {
        return bdev(nameOrAlias).ioStatistics();
    }

    /** @return the bdev whose name or alias (uuid) is {@code nameOrAlias}, with its uuid, or empty */
    public Optional<AttachedBdev> findAttachedBdev(String nameOrAlias) {
        for (Attached a : attached) {
            for (AttachedBdev b : a.bdevs) {
                if (b.isCalled(nameOrAlias)) {
                    return Optional.of(b);
                }
            }
        }
        return Optional.empty();
    }

    /** @return the bdev whose name or alias (uuid) is {@code nameOrAlias}, or empty */
    public Optional<Bdev> findBdev(String nameOrAlias) {
        return findAttachedBdev(nameOrAlias).map(AttachedBdev::bdev);
    }

    /**
     * @param nameOrAlias a bdev name or uuid
     * @return the bdev
     * @throws NoSuchDeviceException naming it and the attached bdevs
     */
    public Bdev bdev(String nameOrAlias) {
        return attachedBdev(nameOrAlias).bdev();
    }

    /**
     * @param nameOrAlias a bdev name or uuid
     * @return the bdev with its uuid and controller
     * @throws NoSuchDeviceException naming it and the attached bdevs
     */
    public AttachedBdev attachedBdev(String nameOrAlias) {
        return findAttachedBdev(nameOrAlias).orElseThrow(() -> new NoSuchDeviceException(JsonPath.root(), "no bdev named "
                + quote(nameOrAlias) + " (attached bdevs: " + namesOrNone(attachedBdevs().stream().map(AttachedBdev::name).toList()) + ")"));
    }

    /** @return the uuid of bdev {@code nameOrAlias} */
    public UUID uuid(String nameOrAlias) {
        return attachedBdev(nameOrAlias).uuid();
    }

    static String namesOrNone(List<String> names) {
        return names.isEmpty() ? "none" : String.join(", ", names);
    }

    // ------------------------------------------------------------------ close

    /** Detaches every controller, newest first. Idempotent; later attaches fail. */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            List<String> names = new ArrayList<>(controllerNames());
            Collections.reverse(names);
            for (String n : names) {
                detach(n, JsonPath.root());
            }
            closed = true;
        } finally {
            lock.unlock();
        }
    }

    private static void closeQuietly(Controller c, Throwable failure) {
        try {
            c.close();
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        }
    }

    @Override
    public String toString() {
        return "BdevRegistry" + controllerNames();
    }
}
