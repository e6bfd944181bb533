package io.jvirtio.config;

import io.jvirtio.core.ReconnectPolicy;
import io.jvirtio.core.pci.PciAddress;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

import static io.jvirtio.config.JsonObjectReader.quote;

/**
 * The params of SPDK's {@code bdev_virtio_attach_controller}, checked by SPDK's rules: {@code name},
 * {@code dev_type}, {@code trtype}, {@code traddr} required; {@code vq_count} (request queues, default
 * 1) and {@code vq_size} (descriptors per queue, default 512, a power of two) for {@code trtype user}
 * only. As in SPDK a 0 in {@code vq_count} / {@code vq_size} means "not given" (the default).
 *
 * <p>Errors are {@link ConfigException}s whose path is relative to the params object
 * ({@code vq_size: 100 is not a power of two}); a loader re-bases them with {@link ConfigException#at}.
 *
 * @param name    the controller name; for blk also the bdev name
 * @param devType {@code blk} or {@code scsi} (a {@link ControllerType}'s {@link ControllerType#devType()})
 * @param trtype  the transport
 * @param traddr  the vhost-user socket path, or the PCI address as given (any form SPDK's
 *                {@code spdk_pci_addr_parse} takes; {@link #pciAddress()} normalizes it)
 * @param vqCount request queues (fixed scsi queues not counted); 0 for PCI, where the device decides
 * @param vqSize  descriptors per queue; 0 for PCI
 * @param reconnect {@code ctrlr_loss_timeout_sec}, {@code reconnect_delay_sec}, {@code fast_io_fail_timeout_sec}
 *                  as SPDK's {@code bdev_nvme_attach_controller} takes them (jvirtio's addition to this method)
 */
public record ControllerParams(String name, String devType, Transport trtype, String traddr, int vqCount, int vqSize,
                               ReconnectPolicy reconnect) {
    /** The RPC / config method these params belong to. */
    public static final String METHOD = "bdev_virtio_attach_controller";
    /** SPDK's {@code SPDK_VIRTIO_USER_DEFAULT_VQ_COUNT}. */
    public static final int DEFAULT_VQ_COUNT = 1;
    /** SPDK's {@code SPDK_VIRTIO_USER_DEFAULT_QUEUE_SIZE}. */
    public static final int DEFAULT_VQ_SIZE = 512;
    /** The split ring's largest queue. */
    public static final int MAX_VQ_SIZE = 32768;
    /** A virtio device has at most this many queues ({@code num_queues} is 16 bits). */
    public static final int MAX_VQ_COUNT = 65535;
    /** The param names, in the order SPDK's save_config writes them. */
    public static final List<String> PARAM_NAMES = List.of("name", "dev_type", "trtype", "traddr", "vq_count", "vq_size");
    /** The reconnect params, named and checked as in SPDK's bdev_nvme_attach_controller; written only when not 0. */
    public static final List<String> RECONNECT_PARAM_NAMES = List.of("ctrlr_loss_timeout_sec", "reconnect_delay_sec",
            "fast_io_fail_timeout_sec");
    private static final List<String> REQUIRED = List.of("name", "dev_type", "trtype", "traddr");
    private static final String REQUIRED_NOTE = METHOD + " requires name, dev_type, trtype and traddr";

    /** Params without a reconnect policy. */
    public ControllerParams(String name, String devType, Transport trtype, String traddr, int vqCount, int vqSize) {
        this(name, devType, trtype, traddr, vqCount, vqSize, ReconnectPolicy.NONE);
    }

    /** @return these params with a reconnect policy */
    public ControllerParams withReconnect(ReconnectPolicy policy) {
        return new ControllerParams(name, devType, trtype, traddr, vqCount, vqSize, policy);
    }

    /** @throws ConfigException naming the param (path relative to the params object) and its value */
    public ControllerParams {
        java.util.Objects.requireNonNull(reconnect, "reconnect");
        if (name == null || name.isEmpty()) {
            throw new ConfigException(JsonPath.of("name"), (name == null ? "missing" : "\"\" (empty)") + "; a controller needs a name");
        }
        if (devType == null || devType.isEmpty()) {
            throw new ConfigException(JsonPath.of("dev_type"), (devType == null ? "missing" : "\"\" (empty)") + "; use \"blk\" or \"scsi\"");
        }
        if (trtype == null) {
            throw new ConfigException(JsonPath.of("trtype"), "missing; use \"user\" or \"pci\"");
        }
        if (traddr == null || traddr.isEmpty()) {
            throw new ConfigException(JsonPath.of("traddr"), (traddr == null ? "missing" : "\"\" (empty)") + "; "
                    + (trtype == Transport.USER ? "give the vhost-user socket path" : "give the PCI address, e.g. 0000:00:04.0"));
        }
        switch (trtype) {
            case USER -> {
                if (vqCount < 1 || vqCount > MAX_VQ_COUNT) {
                    throw new ConfigException(JsonPath.of("vq_count"), vqCount + " is out of range (1 to " + MAX_VQ_COUNT + " request queues)");
                }
                checkQueueSize(vqSize);
            }
            case PCI -> {
                if (vqCount != 0) {
                    throw new ConfigException(JsonPath.of("vq_count"), vqCount + " is not allowed for trtype \"pci\""
                            + " (vq_count and vq_size apply to trtype \"user\" only; a PCI device sets its own)");
                }
                if (vqSize != 0) {
                    throw new ConfigException(JsonPath.of("vq_size"), vqSize + " is not allowed for trtype \"pci\""
                            + " (vq_count and vq_size apply to trtype \"user\" only; a PCI device sets its own)");
                }
                parsePciAddress(traddr);
            }
        }
    }

    private static void checkQueueSize(int vqSize) {
        JsonPath at = JsonPath.of("vq_size");
        if (vqSize < 2) {
            throw new ConfigException(at, vqSize + " is too small (a queue has at least 2 descriptors)");
        }
        if (Integer.bitCount(vqSize) != 1) {
            throw new ConfigException(at, vqSize + " is not a power of two");
        }
        if (vqSize > MAX_VQ_SIZE) {
            throw new ConfigException(at, vqSize + " is larger than " + MAX_VQ_SIZE + ", the largest virtqueue");
        }
    }

    /**
     * @param name    controller name
     * @param devType {@code blk} or {@code scsi}
     * @param socket  the vhost-user socket
     * @param vqCount request queues
     * @param vqSize  descriptors per queue, a power of two
     * @return vhost-user params
     */
    public static ControllerParams user(String name, String devType, Path socket, int vqCount, int vqSize) {
        return new ControllerParams(name, devType, Transport.USER, socket.toString(), vqCount, vqSize);
    }

    /** @return vhost-user params with SPDK's defaults: one request queue of 512 descriptors */
    public static ControllerParams user(String name, String devType, Path socket) {
        return user(name, devType, socket, DEFAULT_VQ_COUNT, DEFAULT_VQ_SIZE);
    }

    /** @return virtio-pci params for the function at {@code pciAddress} */
    public static ControllerParams pci(String name, String devType, String pciAddress) {
        return new ControllerParams(name, devType, Transport.PCI, pciAddress, 0, 0);
    }

    /**
     * The params that re-create an attached controller (save_config): trtype and traddr as its
     * transport writes them ({@code VirtioBackendOps.writeJsonConfig}), the queue counts from the driver.
     *
     * @param transport the transport's {@code trtype}/{@code traddr} map
     * @param vqCount   request queues, as SPDK counts them
     * @param vqSize    descriptors per queue in use
     * @throws IllegalStateException when the transport writes a trtype save_config cannot express
     */
    static ControllerParams ofAttached(String name, String devType, Map<String, Object> transport, int vqCount, int vqSize,
                                       ReconnectPolicy reconnect) {
        String trtype = String.valueOf(transport.get("trtype"));
        String traddr = String.valueOf(transport.get("traddr"));
        Transport t = Transport.fromSpdkName(trtype).orElseThrow(
                () -> new IllegalStateException(name + ": transport writes trtype " + trtype + ", which save_config cannot express"));
        return (t == Transport.USER ? new ControllerParams(name, devType, t, traddr, vqCount, vqSize) : pci(name, devType, traddr))
                .withReconnect(reconnect);
    }

    /**
     * Decodes and checks the params object of {@code bdev_virtio_attach_controller} as SPDK does,
     * with errors that say what is wrong: unknown params, missing ones, wrong types, bad values.
     *
     * @param params the params object
     * @return the checked params, defaults applied
     * @throws ConfigException with a path relative to {@code params}
     */
    public static ControllerParams fromJson(JsonNode params) {
        JsonObjectReader r = JsonObjectReader.of(params, JsonPath.root(), "the params of " + METHOD);
        LinkedHashSet<String> allowed = new LinkedHashSet<>(PARAM_NAMES);
        allowed.addAll(RECONNECT_PARAM_NAMES);
        r.allowOnly(METHOD, allowed);
        List<String> missing = new ArrayList<>();
        for (String k : REQUIRED) {
            if (!r.has(k)) {
                missing.add(k);
            }
        }
        if (missing.size() > 1) {
            throw new ConfigException(JsonPath.root(), "missing required parameters "
                    + String.join(", ", missing.stream().map(JsonObjectReader::quote).toList()) + " (" + REQUIRED_NOTE + ")");
        }
        String name = r.requiredString("name", REQUIRED_NOTE);
        String devType = r.requiredString("dev_type", REQUIRED_NOTE);
        String trtypeText = r.requiredString("trtype", REQUIRED_NOTE);
        String traddr = r.requiredString("traddr", REQUIRED_NOTE);
        Transport trtype = parseTransport(trtypeText);
        OptionalLong vqCount = r.optionalUint32("vq_count");
        OptionalLong vqSize = r.optionalUint32("vq_size");
        long count = vqCount.orElse(0);
        long size = vqSize.orElse(0);
        if (trtype == Transport.USER) {
            // SPDK: 0 (or absent) means the default.
            count = count == 0 ? DEFAULT_VQ_COUNT : count;
            size = size == 0 ? DEFAULT_VQ_SIZE : size;
            if (count > MAX_VQ_COUNT) {
                throw new ConfigException(JsonPath.of("vq_count"), count + " is out of range (1 to " + MAX_VQ_COUNT + " request queues)");
            }
            if (size > MAX_VQ_SIZE) {
                throw new ConfigException(JsonPath.of("vq_size"), size + (Long.bitCount(size) != 1 ? " is not a power of two"
                        : " is larger than " + MAX_VQ_SIZE + ", the largest virtqueue"));
            }
        }
        return new ControllerParams(name, devType, trtype, traddr, (int) Math.min(count, Integer.MAX_VALUE),
                (int) Math.min(size, Integer.MAX_VALUE), reconnectPolicy(r));
    }

    /** SPDK's types: ctrlr_loss_timeout_sec int32 (-1 = for ever), the other two uint32; SPDK's rules between them. */
    private static ReconnectPolicy reconnectPolicy(JsonObjectReader r) {
        long loss = r.optionalInt32("ctrlr_loss_timeout_sec").orElse(0);
        long delay = r.optionalUint32("reconnect_delay_sec").orElse(0);
        long fast = r.optionalUint32("fast_io_fail_timeout_sec").orElse(0);
        for (String k : List.of("reconnect_delay_sec", "fast_io_fail_timeout_sec")) {
            long v = k.equals("reconnect_delay_sec") ? delay : fast;
            if (v > Integer.MAX_VALUE) {
                throw new ConfigException(JsonPath.of(k), v + " is out of range (0 to " + Integer.MAX_VALUE + " seconds)");
            }
        }
        try {
            return new ReconnectPolicy((int) loss, (int) delay, (int) fast);
        } catch (IllegalArgumentException e) {
            String first = e.getMessage().split(" ", 2)[0];
            JsonPath at = RECONNECT_PARAM_NAMES.contains(first) ? JsonPath.of(first) : JsonPath.root();
            throw new ConfigException(at, e.getMessage());
        }
    }

    private static Transport parseTransport(String trtype) {
        return Transport.fromSpdkName(trtype).orElseThrow(() -> {
            JsonPath at = JsonPath.of("trtype");
            if ("vfio-user".equals(trtype)) {
                return new ConfigException(at, "\"vfio-user\" is an SPDK transport jvirtio does not support; use \"user\" or \"pci\"");
            }
            for (Transport t : Transport.values()) {
                if (t.spdkName().equalsIgnoreCase(trtype)) {
                    return new ConfigException(at, quote(trtype) + " is not a transport; did you mean \"" + t.spdkName()
                            + "\"? (trtype is case-sensitive, as in SPDK)");
                }
            }
            return new ConfigException(at, quote(trtype) + " is not a transport; use \"user\" (vhost-user socket) or \"pci\" (PCI address)");
        });
    }

    /** SPDK's {@code spdk_pci_addr_parse}; its RPC's error text, on {@code traddr}. */
    private static PciAddress parsePciAddress(String traddr) {
        try {
            return PciAddress.parse(traddr);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(JsonPath.of("traddr"), e.getMessage());
        }
    }

    /**
     * @return the PCI function ({@code traddr} parsed as SPDK does: {@code 0000:00:05.0}, {@code 00:05.0}, {@code 0:5.0},
     *         ...); its {@code toString()} is the normalized form save_config writes
     */
    public PciAddress pciAddress() {
        if (trtype != Transport.PCI) {
            throw new IllegalStateException(name + ": trtype " + trtype.spdkName() + " has no PCI address");
        }
        return parsePciAddress(traddr);
    }

    /** @return the vhost-user socket ({@code traddr} as a path) */
    public Path socketPath() {
        if (trtype != Transport.USER) {
            throw new IllegalStateException(name + ": trtype " + trtype.spdkName() + " has no socket");
        }
        return Path.of(traddr);
    }

    /**
     * @return the params object as SPDK's save_config writes it: name, dev_type, trtype, traddr, and for
     *         trtype user vq_count, vq_size
     */
    public ObjectNode toJson() {
        ObjectNode p = JsonNodeFactory.instance.objectNode();
        p.put("name", name);
        p.put("dev_type", devType);
        p.put("trtype", trtype.spdkName());
        p.put("traddr", traddr);
        if (trtype == Transport.USER) {
            p.put("vq_count", vqCount);
            p.put("vq_size", vqSize);
        }
        if (!reconnect.isDefault()) {
            p.put("ctrlr_loss_timeout_sec", reconnect.ctrlrLossTimeoutSec());
            p.put("reconnect_delay_sec", reconnect.reconnectDelaySec());
            p.put("fast_io_fail_timeout_sec", reconnect.fastIoFailTimeoutSec());
        }
        return p;
    }

    @Override
    public String toString() {
        return METHOD + " " + toJson();
    }
}
