/**
 * SPDK-compatible JSON for jvirtio: the configuration and introspection surface of SPDK's
 * {@code bdev_virtio} module, so that SPDK JSON config files and scripts reading
 * {@code bdev_get_bdevs} / {@code save_config} work unchanged.
 *
 * <ul>
 *   <li>{@link io.jvirtio.config.BdevRegistry}: attached controllers and their bdevs; attach, detach, lookups.</li>
 *   <li>{@link io.jvirtio.config.ConfigLoader}: loads {@code {"subsystems": [{"subsystem": "bdev", "config": [...]}]}}.</li>
 *   <li>{@link io.jvirtio.config.BdevJson}: {@code bdev_get_bdevs} (dump_json_info) and {@code bdev_virtio_scsi_get_devices}.</li>
 *   <li>{@link io.jvirtio.config.SaveConfig}: {@code save_config} (write_json_config) for the bdev subsystem.</li>
 *   <li>{@link io.jvirtio.config.JsonRpc}: the bdev JSON-RPC methods, answered as SPDK answers them.</li>
 *   <li>{@link io.jvirtio.config.RpcServer}: SPDK's JSON-RPC server on a Unix socket, for SPDK's {@code rpc.py}.</li>
 *   <li>{@link io.jvirtio.config.ControllerType}: the plug-in point per {@code dev_type}; {@code blk} is
 *       {@link io.jvirtio.config.BlkControllerType}.</li>
 * </ul>
 *
 * <pre>{@code
 * try (BdevRegistry registry = new BdevRegistry()) {
 *     registry.load(Path.of("/etc/spdk/vhost.json"));           // SPDK's config file
 *     Bdev disk = registry.bdev("VirtioBlk0");
 *     String bdevs = SpdkJson.format(BdevJson.bdevGetBdevs(registry));
 *     SaveConfig.write(registry, Path.of("saved.json"));         // loads back into SPDK or jvirtio
 * }
 * }</pre>
 *
 * <p>Errors are {@link io.jvirtio.config.ConfigException}s naming the file, the JSON path and the value.
 */
package io.jvirtio.config;
